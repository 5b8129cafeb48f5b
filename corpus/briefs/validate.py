#!/usr/bin/env python3
"""Check corpus files written for KCS intake: codes from DOMAIN.md, required keys.

usage: python3 validate.py FILE.jsonl [FILE.jsonl ...]            (classification messages)
       python3 validate.py --linking FILE.jsonl [...]             (linking scenarios)
Prints one line per problem and a summary; exit 1 if any problem.
"""
import json
import re
import sys
from collections import Counter

TAX = {
    "aldreomsorg": "hemtjanst sarskilt_boende dagverksamhet fardtjanst riksfardtjanst trygghetslarm fixaren god_man avgift_faktura val_av_utforare",
    "forskola": "plats_och_ko avgift_faktura inskrivning_och_schema verksamhet",
    "skola": "skolval vuxenutbildning skolskjuts betyg_och_intyg verksamhet",
    "bygglov": "bygglov detaljplan kartor_och_matning olovligt_byggande",
    "miljo": "buller inomhusmiljo livsmedel miljofarlig_verksamhet avgift_faktura",
    "avfall": "hamtning grovavfall abonnemang avgift_faktura",
    "trafik": "parkeringstillstand felanmalan_gata vinterunderhall kontrollavgift trafikplanering",
    "stadsmiljo": "park klotter nedskrapning lekplats trad",
    "bostad": "bostadsko hyresfragor",
    "idrott": "bokning badhus foreningsbidrag",
    "kultur": "bibliotek stadsarkiv kulturskola",
    "konsument": "konsumentrad",
    "fastighet": "mark_och_arrende lokaler exploatering",
    "kyrkogard": "gravskotsel gravplats",
    "socialtjanst": "ekonomiskt_bistand barn_och_familj missbruk vald_i_nara_relation",
    "funktionsnedsattning": "lss_insats personlig_assistans bostad_sarskild_service",
    "ovrigt": "annan_myndighet allman_information kontakt_med_handlaggare",
}
TAX = {k: set(v.split()) for k, v in TAX.items()}
KLASS = {"information", "ansokan", "status", "synpunkt_klagomal", "felanmalan"}
CHANNELS = {"email", "sms", "letter", "fax"}
LANGS = {"sv", "en", "fi", "ar", "fa", "so", "es", "pl", "tr", "ru", "ti", "ku", "de", "fr",
         "no", "da", "uk", "bs", "hr", "sr", "am", "prs", "sq", "th", "zh", "ro"}
MSG_KEYS = {"id", "channel", "subject", "text", "huvudkategori", "arendetyp", "arendeklass",
            "language", "akut", "sekretess", "register"}


def check_message(rec, where, problems):
    missing = MSG_KEYS - set(rec)
    if missing:
        problems.append(f"{where}: missing keys {sorted(missing)}")
        return
    if rec["channel"] not in CHANNELS:
        problems.append(f"{where}: channel {rec['channel']!r} not in {sorted(CHANNELS)}")
    cat, typ = rec["huvudkategori"], rec["arendetyp"]
    if cat not in TAX:
        problems.append(f"{where}: huvudkategori {cat!r} unknown")
    elif typ not in TAX[cat]:
        problems.append(f"{where}: arendetyp {typ!r} not in {cat}: {sorted(TAX[cat])}")
    if rec["arendeklass"] not in KLASS:
        problems.append(f"{where}: arendeklass {rec['arendeklass']!r} not in {sorted(KLASS)}")
    if rec["language"] not in LANGS:
        problems.append(f"{where}: language {rec['language']!r}: use an ISO 639-1 code")
    for f in ("akut", "sekretess"):
        if not isinstance(rec[f], bool):
            problems.append(f"{where}: {f} must be true or false")
    if not isinstance(rec["text"], str) or len(rec["text"].strip()) < 2:
        problems.append(f"{where}: text is empty")
    if not isinstance(rec["subject"], str):
        problems.append(f"{where}: subject must be a string (\"\" if none)")


SC_KEYS = {"id", "note", "messages", "expected_groups"}
M_KEYS = {"key", "channel", "minutes_after_start", "from_email", "from_phone", "from_name",
          "postal_address", "subject", "text", "message_id", "in_reply_to", "references"}
PH = re.compile(r"\{(REF|ACK):([^}]+)\}")


def check_scenario(sc, where, problems):
    missing = SC_KEYS - set(sc)
    if missing:
        problems.append(f"{where}: missing keys {sorted(missing)}")
        return
    keys = []
    last_t = -1
    for i, m in enumerate(sc["messages"]):
        w = f"{where} message {i}"
        mm = M_KEYS - set(m)
        if mm:
            problems.append(f"{w}: missing keys {sorted(mm)}")
            continue
        if m["channel"] not in {"email", "sms", "letter"}:
            problems.append(f"{w}: channel must be email, sms or letter")
        if not isinstance(m["minutes_after_start"], int) or m["minutes_after_start"] < last_t:
            problems.append(f"{w}: minutes_after_start must be an int, messages in time order")
        else:
            last_t = m["minutes_after_start"]
        if m["channel"] == "email" and not m["from_email"]:
            problems.append(f"{w}: an e-mail needs from_email")
        if m["channel"] == "sms" and not m["from_phone"]:
            problems.append(f"{w}: an SMS needs from_phone")
        if not isinstance(m["references"], list):
            problems.append(f"{w}: references must be a list")
        for field in ("subject", "text", "in_reply_to"):
            for kind, ref in PH.findall(str(m.get(field) or "")):
                if ref not in keys:
                    problems.append(f"{w}: {{{kind}:{ref}}} refers to a message not sent before it")
                elif kind == "ACK" and sc["messages"][keys.index(ref)]["channel"] != "email":
                    problems.append(f"{w}: {{ACK:{ref}}}: only e-mails get an acknowledgement Message-ID")
        for ref in m["references"]:
            for kind, r in PH.findall(ref):
                if r not in keys:
                    problems.append(f"{w}: {{{kind}:{r}}} in references refers to a later message")
        if m["key"] in keys:
            problems.append(f"{w}: key {m['key']!r} used twice")
        keys.append(m["key"])
    grouped = [k for g in sc["expected_groups"] for k in g]
    if sorted(grouped) != sorted(keys):
        problems.append(f"{where}: expected_groups must list every message key exactly once")


def main(argv):
    linking = "--linking" in argv
    files = [a for a in argv if a != "--linking"]
    problems, n, ids = [], 0, Counter()
    stats = Counter()
    for path in files:
        with open(path, encoding="utf-8") as f:
            for ln, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{path}:{ln}"
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    problems.append(f"{where}: not JSON ({e})")
                    continue
                n += 1
                ids[rec.get("id")] += 1
                if linking:
                    check_scenario(rec, where, problems)
                else:
                    check_message(rec, where, problems)
                    stats["akut"] += rec.get("akut") is True
                    stats["sekretess"] += rec.get("sekretess") is True
                    stats[f"lang:{rec.get('language')}"] += 1
                    stats[f"cat:{rec.get('huvudkategori')}"] += 1
    for i, c in ids.items():
        if c > 1:
            problems.append(f"id {i!r} appears {c} times")
    for p in problems:
        print(p)
    print(f"{n} records, {len(problems)} problems")
    if not linking and n:
        print(", ".join(f"{k}={v}" for k, v in sorted(stats.items())))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
