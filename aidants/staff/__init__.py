"""The staff back-office: card import, transfer of mandates, inactive aidants, the journal."""
