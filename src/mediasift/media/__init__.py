"""Decoding media files into arrays the models take."""
