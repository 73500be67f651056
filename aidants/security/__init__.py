"""The only package that touches cryptographic libraries (pyotp, cryptography).

Auditing how secrets are handled means reading these few modules.
"""
