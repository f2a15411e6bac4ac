//! Generic entries for a code whose class is known but which the catalogue does not list, so that an
//! unknown pair still gets a category and text. They are Appel additions and carry no subcode; their
//! code is the last of the class (0 for a normal end; 999 stands for codes outside every class). The
//! server never sends these codes: they only label the fallbacks.

entries! {
    FALLBACKS;

    UNKNOWN_NORMAL_END = CodeOnly(0, None, Success, retryable: false) {
        en: "The call ended normally for a reason this version of Appel does not know."
            => "Nothing needs fixing. Update the SDK or the tools to see the exact reason.",
        fr: "L'appel s'est terminé normalement pour une raison que cette version d'Appel ne connaît pas."
            => "Rien à corriger. Mettez à jour le SDK ou les outils pour connaître la raison exacte.",
    }

    UNKNOWN_SUCCESS = CodeOnly(299, None, Success, retryable: false) {
        en: "The operation succeeded."
            => "Nothing needs fixing. Update the SDK or the tools to see the exact outcome.",
        fr: "L'opération a réussi."
            => "Rien à corriger. Mettez à jour le SDK ou les outils pour connaître le résultat exact.",
    }

    UNKNOWN_CLIENT_ERROR = CodeOnly(499, None, UnexpectedClientError, retryable: true) {
        en: "The operation failed because of the client: its request, its device or its network."
            => "Retry once. If it fails again, update the SDK, note the code and subcode, and check the client's logs and network.",
        fr: "L'opération a échoué à cause du client : sa requête, son appareil ou son réseau."
            => "Réessayez une fois. En cas de nouvel échec, mettez à jour le SDK, notez le code et le sous-code, et examinez les journaux et le réseau du client.",
    }

    UNKNOWN_SERVER_ERROR = CodeOnly(599, None, UnexpectedServerError, retryable: true) {
        en: "The operation failed because of the Appel server."
            => "Retry in a moment. If it keeps failing, give the code, subcode and time to the operator of your Appel server so they can read its logs.",
        fr: "L'opération a échoué à cause du serveur Appel."
            => "Réessayez dans un instant. Si l'échec persiste, transmettez le code, le sous-code et l'heure à l'exploitant de votre serveur Appel pour qu'il consulte ses journaux.",
    }

    UNKNOWN_GLOBAL_FAILURE = CodeOnly(699, None, ExpectedError, retryable: false) {
        en: "The other side gave a final answer that holds on all of its endpoints."
            => "Do not retry at once: the same answer is likely. Tell the user and let them try again later.",
        fr: "L'autre partie a donné une réponse définitive, valable pour tous ses points de terminaison."
            => "Ne réessayez pas immédiatement : la même réponse est probable. Informez l'utilisateur et laissez-le réessayer plus tard.",
    }

    UNRECOGNISED_CODE = CodeOnly(999, None, UnexpectedServerError, retryable: false) {
        en: "The outcome carries a code outside every known class, so it cannot be interpreted."
            => "The sender is probably a newer or misbehaving server. Update the SDK; if that does not help, report the code and subcode to the operator of your Appel server.",
        fr: "Le résultat porte un code qui n'appartient à aucune classe connue et ne peut donc pas être interprété."
            => "L'émetteur est probablement un serveur plus récent ou défaillant. Mettez à jour le SDK ; si cela ne suffit pas, signalez le code et le sous-code à l'exploitant de votre serveur Appel.",
    }
}
