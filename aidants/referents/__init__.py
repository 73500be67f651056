"""The référent's space: a structure's aidants, their cards and apps, its démarches; and the structure switch."""
