"""The reference Provider Portal: Flask on provider-identity (see app.py and the README)."""
