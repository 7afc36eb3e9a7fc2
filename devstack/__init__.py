"""The local development stack: moto server, `chalice local`, static site, demo data."""
