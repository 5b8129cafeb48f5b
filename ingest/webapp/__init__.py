"""The registratur web app: staff sign-in and the screens (see ``ingest.webapp.app``)."""
