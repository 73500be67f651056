"""What each role-changing or destructive change of a référent does, said before it is confirmed."""

from __future__ import annotations

#: What each change does, said on its confirmation page before the référent confirms it.
CONFIRMATIONS = {
    "deactivate": ("Désactiver le compte de {name}",
                   "{name} ne pourra plus se connecter ni utiliser les mandats de la structure. Ses mandats restent "
                   "valables pour la structure. Vous pourrez réactiver le compte plus tard.",
                   "Désactiver le compte"),
    "remove": ("Retirer {name} de {organisation}",
               "{name} ne pourra plus agir pour {organisation}, ni utiliser ses mandats. Son compte reste actif dans "
               "ses autres structures.", "Retirer de la structure"),
    "appoint": ("Nommer {name} co-référent",
                "{name} pourra gérer les aidants de {organisation} : en demander de nouveaux, les désactiver, leur "
                "attribuer des cartes, et nommer ou retirer d'autres référents.", "Nommer co-référent"),
    "revoke": ("Retirer le rôle de référent à {name}",
               "{name} ne pourra plus gérer les aidants ni les cartes de {organisation}. S'il est aussi aidant, il "
               "continue de créer et d'utiliser des mandats.", "Retirer le rôle de référent"),
}
