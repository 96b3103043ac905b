"""One module per HTTP route family that is not in the app itself."""
