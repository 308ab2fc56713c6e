"""Evaluate page (placeholder until the evaluation API lands)."""
import streamlit as st

st.title("Evaluate")
