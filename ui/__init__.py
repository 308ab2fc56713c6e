"""The Streamlit front end: chat, knowledge base and evaluation pages (``domainrag ui``)."""

from pathlib import Path

APP_FILE = Path(__file__).with_name("app.py")
