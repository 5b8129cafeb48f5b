"""Regenerates dedupe/scenarios/linking.jsonl (the checked-in linking scenarios)."""
import json
S = []
def m(key, ch, t, text, subject="", fe=None, fp=None, fn=None, addr=None, mid=None, irt=None, refs=()):
    return {"key": key, "channel": ch, "minutes_after_start": t, "from_email": fe, "from_phone": fp,
            "from_name": fn, "postal_address": addr, "subject": subject, "text": text,
            "message_id": mid, "in_reply_to": irt, "references": list(refs)}
def sc(id, msgs, groups, note):
    S.append({"id": id, "note": note, "messages": msgs, "expected_groups": groups})
D = 1440
# --- replies to our acknowledgement and e-mail threads
sc("L01", [m("a","email",0,"Hej!\nMin mamma Elsa har hemtjänst i Vällingby men personalen kommer inte på morgnarna som det är bestämt. Hon har fått vänta till lunch tre dagar i rad.\n\nMvh Karin Lund","Hemtjänsten kommer inte i tid","karin.lund@example.se",fn="Karin Lund",mid="<k1@example.se>"),
          m("b","email",300,"Hej igen, i dag kom de inte heller förrän klockan elva.\n\nKarin","Re: Hemtjänsten kommer inte i tid","karin.lund@example.se",fn="Karin Lund",mid="<k2@example.se>",irt="{ACK:a}",refs=["<k1@example.se>","{ACK:a}"])],
   [["a","b"]], "reply to our acknowledgement")
sc("L02", [m("a","email",0,"Hej, jag har fått en faktura för förskoleavgift för oktober fast min dotter slutade i september. Fakturanummer 44521.\n\nMed vänlig hälsning\nPeter Nyström","Fel faktura förskola","peter.nystrom@example.com",fn="Peter Nyström",mid="<p1@example.com>"),
          m("b","email",2*D,"Jag väntar fortfarande på svar om fakturan. Kan någon ringa mig på 070-123 45 67?\n\nPeter Nyström","Re: Fel faktura förskola","peter.nystrom@example.com",fn="Peter Nyström",mid="<p2@example.com>",irt="<p1@example.com>",refs=["<p1@example.com>"])],
   [["a","b"]], "reply in own thread without our ack")
sc("L03", [m("a","email",0,"Hej, gatlampan utanför Hjortvägen 12 i Bandhagen är trasig sedan en vecka. Det är mörkt och obehagligt att gå hem.\n\n/Ali Hassan","Trasig gatlampa","ali.hassan@example.se",fn="Ali Hassan",mid="<ah1@example.se>"),
          m("b","email",1*D,"Tack för svaret. Lampan är fortfarande släckt i kväll.\n\n/Ali Hassan","SV: Trasig gatlampa [{REF:a}]","ali.hassan@example.se",fn="Ali Hassan",mid="<ah2@example.se>")],
   [["a","b"]], "number in subject, same sender")
# --- cross-channel e-mail -> SMS -> letter
sc("L04", [m("a","email",0,"Hej! Vårt sopkärl på Tallvägen 4 i Bromma har inte tömts på tre veckor. Det luktar illa och vi har sett råttor.\n\nMvh Anna Berg","Sopkärlet har inte tömts","anna.berg@example.se",fn="Anna Berg",mid="<ab1@example.se>"),
          m("b","sms",600,"Hej, angående {REF:a}: kärlet är fortfarande inte tömt. /Anna Berg",fp="+46701234567"),
          m("c","letter",5*D,"Jag skriver igen om ärende {REF:a}. Sopkärlet har fortfarande inte tömts och det blir värre för varje dag.\n\nMed vänlig hälsning\nAnna Berg","Sophämtning",fn="Anna Berg",addr="Tallvägen 4, 167 45 Bromma")],
   [["a","b","c"]], "email, SMS quoting number with signature, letter quoting number")
sc("L05", [m("a","email",0,"Hej, jag vill ansöka om färdtjänst. Jag har svårt att gå efter en höftoperation och kan inte åka buss.\n\nHälsningar\nGöran Ek","Ansökan färdtjänst","goran.ek@example.se",fn="Göran Ek",mid="<ge1@example.se>"),
          m("b","sms",3*D,"Hej! Har ni fått min ansökan om färdtjänst? Ärende {REF:a}. Mvh Göran Ek",fp="+46733456789"),
          m("c","letter",9*D,"Angående min ansökan om färdtjänst, ärende {REF:a}, bifogar jag läkarintyget.\n\nMed vänlig hälsning\nGöran Ek","Läkarintyg färdtjänst",fn="Göran Ek",addr="Solhemsbacken 3, 163 56 Spånga")],
   [["a","b","c"]], "cross-channel with the number everywhere")
sc("L06", [m("a","sms",0,"Hej. Det ligger massor med skräp och glas på lekplatsen i Rålambshovsparken. Barnen kan skada sig.",fp="+46702223344"),
          m("b","sms",45,"Glömde säga: det är vid sandlådan närmast Smedsudden.",fp="+46702223344"),
          m("c","email",2*D,"Hej, jag skickade sms i förrgår om glas på lekplatsen i Rålambshovsparken, ärende {REF:a}. Det ligger kvar.\n\nMvh Sara Lind","Glas på lekplatsen","sara.lind@example.se",fn="Sara Lind",mid="<sl1@example.se>")],
   [["a","b","c"]], "SMS continuity then e-mail quoting number")
sc("L07", [m("a","letter",0,"Hej,\nJag har ansökt om plats i särskilt boende för min make Bengt men har inte fått något besked. Han har demens och jag orkar inte längre.\n\nVänliga hälsningar\nMargareta Holm","Särskilt boende",fn="Margareta Holm",addr="Björkhagsvägen 21, 121 53 Johanneshov"),
          m("b","letter",20*D,"Jag skrev för tre veckor sedan om särskilt boende för min make, ärende {REF:a}. Vi har fortfarande inte hört något.\n\nVänliga hälsningar\nMargareta Holm","Särskilt boende",fn="Margareta Holm",addr="Björkhagsvägen 21, 121 53 Johanneshov")],
   [["a","b"]], "letter follow-up by letter")
# --- duplicates
sc("L08", [m("a","email",0,"Hej, grannens hund skäller hela nätterna på Ringvägen 88. Vi har inte sovit på en vecka.\n\nMvh Lena Sjö","Störande hundskall","lena.sjo@example.se",fn="Lena Sjö",mid="<ls1@example.se>"),
          m("b","email",0,"Hej, grannens hund skäller hela nätterna på Ringvägen 88. Vi har inte sovit på en vecka.\n\nMvh Lena Sjö","Störande hundskall","lena.sjo@example.se",fn="Lena Sjö",mid="<ls1@example.se>")],
   [["a","b"]], "same Message-ID delivered twice")
sc("L09", [m("a","sms",0,"Det är ett stort hål i cykelbanan på Norr Mälarstrand vid nr 20. Någon kommer att cykla omkull.",fp="+46705556677"),
          m("b","sms",0,"Det är ett stort hål i cykelbanan på Norr Mälarstrand vid nr 20. Någon kommer att cykla omkull.",fp="+46705556677")],
   [["a","b"]], "same Twilio MessageSid delivered twice")
sc("L10", [m("a","email",0,"Hej! Jag vill klaga på bygget på Fatburs Kvarngata. De börjar borra klockan sex på morgonen, även på lördagar. Det är omöjligt att sova och jag har små barn.\n\nMvh Oskar Dahl","Buller från bygge","oskar.dahl@example.se",fn="Oskar Dahl",mid="<od1@example.se>"),
          m("b","email",3,"Hej! Jag vill klaga på bygget på Fatburs Kvarngata. De börjar borra klockan sex på morgonen, även på lördagar. Det är omöjligt att sova och jag har små barn.\n\nMvh Oskar Dahl","Buller från bygge","oskar.dahl@example.se",fn="Oskar Dahl",mid="<od2@example.se>")],
   [["a","b"]], "sent twice with new Message-IDs (double click)")
sc("L11", [m("a","letter",0,"Jag begär att få ta del av protokollet från stadsdelsnämndens sammanträde i oktober om nedläggningen av fritidsgården i Husby.\n\nMed vänlig hälsning\nYusuf Ali","Begäran om allmän handling",fn="Yusuf Ali",addr="Trondheimsgatan 10, 164 30 Kista"),
          m("b","letter",0,"Jag begär att få ta del av protokollet från stadsdelsnämndens sammanträde i oktober om nedläggningen av fritidsgården i Husby.\n\nMed vänlig hälsning\nYusuf Ali","Begäran om allmän handling",fn="Yusuf Ali",addr="Trondheimsgatan 10, 164 30 Kista")],
   [["a","b"]], "the same letter scanned twice")
sc("L12", [m("a","email",0,"Hej, jag vill ställa mig i kö till förskola för min son född i mars. Vi bor i Hägersten.\n\nMvh Julia Berg","Förskolekö","julia.berg@example.se",fn="Julia Berg",mid="<jb1@example.se>"),
          m("b","email",0,"Hej, jag vill ställa mig i kö till förskola för min son född i mars. Vi bor i Hägersten.\n\nMvh Julia Berg","Förskolekö","julia.berg@example.se",fn="Julia Berg",mid="<jb1@example.se>"),
          m("c","sms",2*D,"Hej, jag mejlade om förskolekö, ärende {REF:a}. Vilket datum räknas som köstart? Julia Berg",fp="+46708889900")],
   [["a","b","c"]], "duplicate e-mail, then SMS quoting the number")
# --- same sender, new matter: must not link
sc("L13", [m("a","email",0,"Hej, vi har inte fått någon sophämtning på Enskedevägen 40 sedan förra veckan.\n\nMvh Nils Ek","Sophämtning","nils.ek@example.se",fn="Nils Ek",mid="<ne1@example.se>"),
          m("b","email",3*D,"Hej, jag vill ansöka om bygglov för en carport på vår tomt på Enskedevägen 40. Vilka handlingar behövs?\n\nMvh Nils Ek","Bygglov carport","nils.ek@example.se",fn="Nils Ek",mid="<ne2@example.se>")],
   [["a"],["b"]], "same sender, new matter")
sc("L14", [m("a","sms",0,"Hej, när öppnar simhallen i Eriksdal efter renoveringen?",fp="+46701112233"),
          m("b","sms",10*D,"Hej, min mamma behöver trygghetslarm. Hur ansöker man?",fp="+46701112233")],
   [["a"],["b"]], "same phone, new matter outside the SMS window")
sc("L15", [m("a","letter",0,"Jag vill överklaga beslutet om parkeringstillstånd för rörelsehindrad som jag fick i förra månaden.\n\nMed vänlig hälsning\nAstrid Nilsson","Överklagande parkeringstillstånd",fn="Astrid Nilsson",addr="Bellmansgatan 7, 118 47 Stockholm"),
          m("b","letter",30*D,"Jag vill boka gravskötsel för min mans grav på Skogskyrkogården för nästa år.\n\nMed vänlig hälsning\nAstrid Nilsson","Gravskötsel",fn="Astrid Nilsson",addr="Bellmansgatan 7, 118 47 Stockholm")],
   [["a"],["b"]], "same letter writer, unrelated matter a month later")
sc("L16", [m("a","email",0,"Hej, biblioteket i Skärholmen har haft stängt två lördagar i rad utan förvarning.\n\nMvh Emma Wik","Stängt bibliotek","emma.wik@example.se",fn="Emma Wik",mid="<ew1@example.se>"),
          m("b","email",60,"Hej igen, en annan sak: gatan utanför Skärholmens centrum har stora potthål som ingen lagat.\n\nMvh Emma Wik","Potthål","emma.wik@example.se",fn="Emma Wik",mid="<ew2@example.se>")],
   [["a"],["b"]], "same sender, two matters the same day")
sc("L17", [m("a","email",0,"Hej, jag har frågor om min faktura för hemtjänst i oktober. Den är dubbelt så hög som vanligt.\n\nMvh Maria Johansson","Faktura hemtjänst","maria.johansson@example.se",fn="Maria Johansson",mid="<mj1@example.se>"),
          m("b","email",1*D,"Hej, jag undrar hur man ansöker om plats i kulturskolan för min dotter som vill spela fiol.\n\nMvh Maria Johansson","Kulturskolan","mjohansson78@example.com",fn="Maria Johansson",mid="<mj2@example.com>")],
   [["a"],["b"]], "namesakes with different addresses and matters")
# --- OCR-damaged references (fresh store: a gets KC-2026-000001-Q)
sc("L18", [m("a","email",0,"Hej, jag har fått en kontrollavgift på Sveavägen trots att jag hade betalat med appen. Jag bifogar kvittot.\n\nMvh Hampus Lönn","Felaktig kontrollavgift","hampus.lonn@example.se",fn="Hampus Lönn",mid="<hl1@example.se>"),
          m("b","letter",7*D,"Ang. ärende KC-2O26-00OOO1-Q\nJag har inte fått något svar om kontrollavgiften och nu har jag fått en påminnelse.\n\nMed vänlig hälsning\nHampus Lönn","",fn="Hampus Lönn",addr="Odengatan 50, 113 51 Stockholm")],
   [["a","b"]], "O for 0 in a scanned letter")
sc("L19", [m("a","email",0,"Hej, vi har fuktfläckar och mögellukt i lägenheten och hyresvärden gör ingenting. Vi har en bebis.\n\nMvh Fatima Yousef","Mögel i lägenheten","fatima.yousef@example.se",fn="Fatima Yousef",mid="<fy1@example.se>"),
          m("b","letter",10*D,"Angående KC-2026-\n00000l-Q skriver jag igen. Möglet har blivit värre och barnet hostar.\n\nVänliga hälsningar\nFatima Yousef","",fn="Fatima Yousef",addr="Rinkebysvängen 12, 163 74 Spånga")],
   [["a","b"]], "line break and l for 1 in the number")
sc("L20", [m("a","sms",0,"Hej jag har inte fått min färdtjänstresa i morse, bilen kom aldrig. Mvh Kerstin Åberg",fp="+46709990011"),
          m("b","letter",15*D,"Ärende KC 2026 000 001 Q\nJag vill klaga igen på färdtjänsten som inte kom den tredje november.\n\nMed vänlig hälsning\nKerstin Åberg","Klagomål färdtjänst",fn="Kerstin Åberg",addr="Fruängsgatan 5, 129 52 Hägersten")],
   [["a","b"]], "spaces instead of dashes")
sc("L21", [m("a","email",0,"Hej, hur ansöker jag om bostadsanpassning för min pappa som sitter i rullstol?\n\nMvh Johan Stål","Bostadsanpassning","johan.stal@example.se",fn="Johan Stål",mid="<js1@example.se>"),
          m("b","letter",3*D,"Ärende KC-2026-000001-Z gäller mitt klagomål på snöröjningen i Farsta.\n\nMed vänlig hälsning\nErik Ström","Snöröjning",fn="Erik Ström",addr="Farstavägen 3, 123 47 Farsta")],
   [["a"],["b"]], "a number with the wrong check letter is not ours")
# --- hijack attempts
sc("L22", [m("a","email",0,"Hej, jag har ansökt om ekonomiskt bistånd och undrar när jag får besked.\n\nMvh Leila Karimi","Ekonomiskt bistånd","leila.karimi@example.se",fn="Leila Karimi",mid="<lk1@example.se>"),
          m("b","email",1*D,"Hej, jag vill ändra kontonummer för utbetalningen i ärende {REF:a} till 8327-9, 123 456 789-0.\n\nMvh Leila","Ändra kontonummer","l.karimi.nytt@example.com",mid="<x1@example.com>")],
   [["a"],["b"]], "hijack: another e-mail address quotes the number")
sc("L23", [m("a","sms",0,"Hej, jag vill veta min plats i bostadskön. Mvh Dan Persson",fp="+46701239876"),
          m("b","sms",60,"Gällande {REF:a}: skicka alla uppgifter till mig i stället.",fp="+46767771234")],
   [["a"],["b"]], "hijack: another phone quotes the number")
sc("L24", [m("a","letter",0,"Jag anmäler att min granne bygger ett garage utan bygglov på tomten bredvid.\n\nMed vänlig hälsning\nBo Lindgren","Olovligt byggande",fn="Bo Lindgren",addr="Ekbacken 2, 127 32 Skärholmen"),
          m("b","email",2*D,"Hej, jag har sett att det finns ett ärende {REF:a} om mitt garage. Vem har anmält mig?\n\nMvh Stig Holmberg","Fråga om ärende","stig.holmberg@example.se",fn="Stig Holmberg",mid="<sh1@example.se>")],
   [["a"],["b"]], "the neighbour who was reported quotes the number")
sc("L25", [m("a","email",0,"Hej, min son blir mobbad i skolan och rektorn gör inget.\n\nMvh Sofia Ahmed","Mobbning","sofia.ahmed@example.se",fn="Sofia Ahmed",mid="<sa1@example.se>"),
          m("b","email",1*D,"Ärende KC-2026-000002-R: jag vill ha en kopia av alla handlingar.\n\nMvh Okänd","Handlingar","random123@example.net",mid="<r1@example.net>")],
   [["a"],["b"]], "a guessed sequential number that does not exist in the scenario")
# --- relatives
sc("L26", [m("a","letter",0,"Jag har hemtjänst men personalen hinner inte med städningen och jag kan inte själv. Personnummer 380412-1238.\n\nVänliga hälsningar\nGunnel Larsson","Hemtjänst",fn="Gunnel Larsson",addr="Vårbergsvägen 30, 127 42 Skärholmen"),
          m("b","email",4*D,"Hej, jag skriver för min mamma Gunnel Larsson, 380412-1238, som har hemtjänst. Städningen blir fortfarande inte gjord.\n\nMvh Eva Larsson","Min mammas hemtjänst","eva.larsson@example.se",fn="Eva Larsson",mid="<el1@example.se>")],
   [["a","b"]], "daughter writes quoting the mother's personnummer")
sc("L27", [m("a","email",0,"Hej, min far Harald Berg har fått avslag på ansökan om trygghetslarm. Vi vill överklaga.\n\nMvh Lars Berg","Trygghetslarm avslag","lars.berg@example.se",fn="Lars Berg",mid="<lb1@example.se>"),
          m("b","email",2*D,"Hej, jag är dotter till Harald Berg och skriver om ärende {REF:a}. Pappa har ramlat två gånger till och behöver larmet nu.\n\nMvh Ingrid Berg","Ang. pappas trygghetslarm","ingrid.berg@example.com",fn="Ingrid Berg",mid="<ib1@example.com>")],
   [["a","b"]], "a sibling writes about the parent's ärende, quoting the number")
sc("L28", [m("a","letter",0,"Jag är god man för Sven Olsson och begär att hans avgift för särskilt boende ses över. Dnr 2026/1187.\n\nMed vänlig hälsning\nAnders Wall","Avgift särskilt boende",fn="Anders Wall",addr="Götgatan 14, 118 46 Stockholm"),
          m("b","email",12*D,"Hej, jag är god man för Sven Olsson. Gäller diarienummer 001187/2026 om avgiften för särskilt boende. Har beslutet kommit?\n\nAnders Wall","Dnr 2026/1187","anders.wall@godman.example.se",fn="Anders Wall",mid="<aw1@example.se>")],
   [["a","b"]], "god man follows up by e-mail quoting the diarienummer in another spelling")
# --- external references
sc("L29", [m("a","email",0,"Hej, jag har fått beslut om avslag på bygglov, Dnr SB 2026-04512, och vill överklaga.\n\nMvh Kim Nord","Överklagan bygglov","kim.nord@example.se",fn="Kim Nord",mid="<kn1@example.se>"),
          m("b","letter",20*D,"Komplettering till mitt överklagande, diarienummer 4512/2026. Jag bifogar ritningar.\n\nMed vänlig hälsning\nKim Nord","Komplettering",fn="Kim Nord",addr="Västertorpsvägen 9, 129 44 Hägersten")],
   [["a","b"]], "diarienummer written two ways, e-mail then letter")
sc("L30", [m("a","letter",0,"Jag har fått en faktura för avfallsabonnemang med OCR-nummer 5512 3344 7788 som är fel, vi har inget kärl.\n\nMed vänlig hälsning\nBritt Ek","Faktura avfall",fn="Britt Ek",addr="Skogsvägen 3, 128 30 Skarpnäck"),
          m("b","sms",8*D,"Hej, påminnelse om fakturan med OCR-nummer 551233447788, jag har inget kärl. /Britt Ek",fp="+46704445566")],
   [["a","b"]], "OCR-nummer (payment reference) in a letter and an SMS")
sc("L31", [m("a","email",0,"Hej, vi har fått föreläggande om bullerskydd, Dnr 2026/0777. Vi undrar om tidsfristen kan förlängas.\n\nMvh Restaurang Solen AB","Föreläggande buller","info@restaurangsolen.example.se",mid="<rs1@example.se>"),
          m("b","email",1*D,"Hej, jag bor ovanför en restaurang på Hornsgatan och musiken spelar till två varje natt. Kan ni göra något?\n\nMvh Tove Lind","Buller från restaurang","tove.lind@example.se",fn="Tove Lind",mid="<tl1@example.se>")],
   [["a"],["b"]], "related topic, no shared evidence")
# --- near-duplicate text across channels
sc("L32", [m("a","email",0,"Hej! Jag vill anmäla att det finns klotter över hela fasaden på förskolan Myran på Västerbergsvägen 12 i Hägersten. Det är hakkors och fula ord som barnen ser varje morgon. Det har suttit där i två veckor.\n\nMvh Henrik Sund","Klotter på förskolan","henrik.sund@example.se",fn="Henrik Sund",mid="<hs1@example.se>"),
          m("b","letter",7*D,"Hej! Jag vill anmäla att det finns klotter över hela fasaden på förskolan Myran på Västerbergsvägen 12 i Hägersten. Det är hakkors och fula ord som barnen ser varje morgon. Det har suttit där i två veckor.\n\nMed vänlig hälsning\nHenrik Sund","Klotter på förskolan",fn="Henrik Sund",addr="Västerbergsvägen 20, 129 38 Hägersten")],
   [["a","b"]], "the same complaint by e-mail and by letter a week later")
sc("L33", [m("a","email",0,"Vi boende på Fredsgatan kräver att kommunen sätter upp farthinder. Bilarna kör alldeles för fort förbi skolan och det är bara en tidsfråga innan ett barn blir påkört.\n\nMvh Nina Ek","Farthinder Fredsgatan","nina.ek@example.se",fn="Nina Ek",mid="<nek1@example.se>"),
          m("b","email",120,"Vi boende på Fredsgatan kräver att kommunen sätter upp farthinder. Bilarna kör alldeles för fort förbi skolan och det är bara en tidsfråga innan ett barn blir påkört.\n\nMvh Olle Ström","Farthinder Fredsgatan","olle.strom@example.se",fn="Olle Ström",mid="<os1@example.se>")],
   [["a"],["b"]], "the same petition text from two neighbours")
sc("L34", [m("a","sms",0,"Det brinner i en soptunna vid busshållplatsen på Hökarängsplan!",fp="+46701010101"),
          m("b","sms",5,"Det brinner i en soptunna vid busshållplatsen på Hökarängsplan!",fp="+46702020202")],
   [["a"],["b"]], "two people report the same thing by SMS")
sc("L35", [m("a","letter",0,"Jag vill klaga på att snöröjningen på Sockenvägen i Enskede inte har gjorts på hela veckan. Jag är 84 år och kan inte ta mig till affären.\n\nMed vänlig hälsning\nIngvar Holm","Snöröjning",fn="Ingvar Holm",addr="Sockenvägen 100, 122 63 Enskede"),
          m("b","letter",6*D,"Jag klagade förra veckan på snöröjningen på Sockenvägen i Enskede. Fortfarande har ingen plogat och jag är 84 år och kan inte ta mig till affären.\n\nMed vänlig hälsning\nIngvar Holm","Snöröjning",fn="Ingvar Holm",addr="Sockenvägen 100, 122 63 Enskede")],
   [["a","b"]], "second letter from the same name and address about the same thing")
# --- SMS continuity and anonymity
sc("L36", [m("a","sms",0,"Hej, vattnet i lekparkens plaskdamm i Tantolunden är grönt och luktar.",fp="+46703030303"),
          m("b","sms",20,"Det är flera barn som badar i den nu.",fp="+46703030303"),
          m("c","sms",40,"Tack!",fp="+46703030303")],
   [["a","b","c"]], "an SMS conversation")
sc("L37", [m("a","letter",0,"Det är så mycket nedskräpning vid återvinningsstationen på Tellusborgsvägen. Någon borde städa.","Nedskräpning"),
          m("b","letter",2*D,"Jag vill ha information om hur man söker föreningsbidrag för en idrottsförening.","Föreningsbidrag")],
   [["a"],["b"]], "two anonymous letters, unrelated")
sc("L38", [m("a","email",0,"Hej, jag vill veta hur lång kötiden är till Bostadsförmedlingen för en etta i Söderort.\n\nMvh Amir Rahimi","Bostadskö","amir.rahimi@example.se",fn="Amir Rahimi",mid="<ar1@example.se>"),
          m("b","sms",1*D,"Hej, angående {REF:a}: jag har stått i kö sedan 2019. /Amir Rahimi",fp="+46705050505"),
          m("c","sms",1*D+30,"Och jag söker helst i Farsta eller Högdalen.",fp="+46705050505")],
   [["a","b","c"]], "e-mail, then SMS quoting the number, then SMS continuity")
sc("L39", [m("a","email",0,"Hej, jag vill boka en tid i Stadsarkivet för att titta på min farfars bouppteckning från 1952.\n\nMvh Per Ahl","Stadsarkivet","per.ahl@example.se",fn="Per Ahl",mid="<pa1@example.se>"),
          m("b","email",90*D,"Hej, jag vill boka en tid i Stadsarkivet igen för att titta på fler handlingar om min farfars fastighet.\n\nMvh Per Ahl","Stadsarkivet igen","per.ahl@example.se",fn="Per Ahl",mid="<pa2@example.se>")],
   [["a"],["b"]], "same sender, similar topic, three months later")
sc("L40", [m("a","email",0,"Hej, jag har ansökt om plats på Vallabergsskolan för min son men inte fått svar. Han ska börja förskoleklass i augusti.\n\nMvh Zeynep Kaya","Skolval","zeynep.kaya@example.se",fn="Zeynep Kaya",mid="<zk1@example.se>"),
          m("b","letter",14*D,"Jag mejlade om skolplats för min son, ärende {REF:a}. Vi har nu fått erbjudande men vill ha plats på Vallabergsskolan.\n\nMed vänlig hälsning\nZeynep Kaya","Skolplats",fn="Zeynep Kaya",addr="Bredängsvägen 190, 127 32 Skärholmen"),
          m("c","email",15*D,"Hej, en helt annan fråga: var kan jag hämta gratis kompost till trädgården?\n\nMvh Zeynep Kaya","Kompost","zeynep.kaya@example.se",fn="Zeynep Kaya",mid="<zk2@example.se>")],
   [["a","b"],["c"]], "cross-channel follow-up, then a new matter from the same sender")
sc("L41", [m("a","email",0,"Hej! Jag har fått ett beslut om ekonomiskt bistånd och förstår inte beräkningen. Dnr 312-2044/2026.\n\nMvh Mehmet Demir","Beslut bistånd","mehmet.demir@example.se",fn="Mehmet Demir",mid="<md1@example.se>"),
          m("b","email",3*D,"Hej, jag har fått beslut med Dnr 2044/2026 om min ansökan om bygglov och undrar över avgiften.\n\nMvh Karin Sjöberg","Avgift bygglov","karin.sjoberg@example.se",fn="Karin Sjöberg",mid="<ks1@example.se>")],
   [["a"],["b"]], "a colliding diarienummer from another person is not enough")
sc("L42", [m("a","sms",0,"Hej, trafikljuset vid Hornstull visar rött åt alla håll sedan i morse.",fp="+46706060606"),
          m("b","email",30,"Hej, jag skickade sms nyss från 070-606 06 06 om trafikljuset vid Hornstull, ärende {REF:a}. Det är fortfarande fel och det är kaos.\n\nMvh Robin Ek","Trafikljus Hornstull","robin.ek@example.se",fn="Robin Ek",mid="<re1@example.se>")],
   [["a","b"]], "SMS then e-mail naming the phone number and the ärende number")
sc("L43", [m("a","letter",0,"Hej, jag vill ha hjälp av Fixaren att byta glödlampor i taket, jag är 88 år. Mitt telefonnummer är 08-710 20 30.\n\nVänliga hälsningar\nAina Gustafsson","Fixaren",fn="Aina Gustafsson",addr="Hagsätra torg 5, 124 73 Bandhagen"),
          m("b","letter",2*D,"Hej, jag vill ha hjälp av Fixaren att byta glödlampor i taket, jag är 88 år. Mitt telefonnummer är 08-710 20 30.\n\nVänliga hälsningar\nAina Gustafsson","Fixaren",fn="Aina Gustafsson",addr="Hagsätra torg 5, 124 73 Bandhagen")],
   [["a","b"]], "an elderly person sends the same letter again")
sc("L44", [m("a","email",0,"Hej, var kan jag lämna grovavfall i Västerort? Jag har en gammal soffa.\n\nMvh Tim Falk","Grovavfall","tim.falk@example.se",fn="Tim Falk",mid="<tf1@example.se>"),
          m("b","email",2,"Hej, var kan jag lämna grovavfall i Västerort? Jag har en gammal soffa.\n\nMvh Lina Mo","Grovavfall","lina.mo@example.se",fn="Lina Mo",mid="<lm1@example.se>")],
   [["a"],["b"]], "two people ask the same question minutes apart")
from pathlib import Path
with open(Path(__file__).resolve().parent.parent / "dedupe/scenarios/linking.jsonl", "w") as f:
    f.write("\n".join(json.dumps(s, ensure_ascii=False) for s in S) + "\n")
print(len(S))
