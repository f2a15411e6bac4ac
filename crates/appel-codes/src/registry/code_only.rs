//! Fallbacks that carry a code and no subcode, used when no subcode applies; sorted by code.

entries! {
    CODE_ONLY;

    CALL_NOT_FOUND = CodeOnly(404, None, ExpectedError, retryable: false) {
        en: "The call or number could not be found." => "Double-check the identifier or phone number used; the call may already have ended or the id may be wrong.",
        fr: "L'appel ou le numéro demandé est introuvable." => "Contrôlez l'identifiant ou le numéro utilisé. L'appel est peut-être déjà terminé, ou l'identifiant est erroné.",
    }

    CONTROLLER_TIMEOUT = CodeOnly(408, None, UnexpectedClientError, retryable: true) {
        en: "The server stopped waiting for a response from one of the devices in the call." => "Make sure the devices involved are online and their apps are running, then try again.",
        fr: "Le serveur a cessé d'attendre une réponse de l'un des appareils de l'appel." => "Assurez-vous que les appareils concernés sont en ligne et que leurs applications sont ouvertes, puis réessayez.",
    }

    MEDIA_STACK_ERROR = CodeOnly(410, None, UnexpectedClientError, retryable: true) {
        en: "The media stack on this device, or the media infrastructure, ran into an error." => "Retry the call. Keep the app on a current, supported Appel SDK and platform; if the error comes back, send the call id and client logs to the operator of your Appel server.",
        fr: "La pile média de cet appareil, ou l'infrastructure média, a rencontré une erreur." => "Relancez l'appel. Gardez l'application sur une version récente et prise en charge du SDK Appel et de la plateforme. Si l'erreur revient, envoyez l'identifiant de l'appel et les journaux du client à l'opérateur de votre serveur Appel.",
    }

    MESSAGE_NOT_DELIVERED = CodeOnly(430, None, UnexpectedClientError, retryable: true) {
        en: "A message could not be delivered to the client application." => "Check that the client app is running, connected and able to receive events, then try again.",
        fr: "Un message n'a pas pu être remis à l'application cliente." => "Vérifiez que l'application cliente fonctionne, est connectée et peut recevoir des événements, puis réessayez.",
    }

    ENDPOINT_NOT_REGISTERED = CodeOnly(480, None, ExpectedError, retryable: true) {
        en: "The remote device is not registered or cannot be reached right now." => "Check that the other party is signed in and online, then call again.",
        fr: "L'appareil distant n'est pas inscrit ou n'est pas joignable pour le moment." => "Vérifiez que le correspondant est connecté et en ligne, puis rappelez.",
    }

    INCOMING_CALL_FAILED = CodeOnly(481, None, UnexpectedServerError, retryable: true) {
        en: "The server failed to process the incoming call." => "Try again. If it keeps failing, note the call id and time and report them, with client logs, to the operator of your Appel server.",
        fr: "Le serveur n'a pas réussi à traiter l'appel entrant." => "Réessayez. Si l'échec persiste, notez l'identifiant et l'heure de l'appel et signalez-les, avec les journaux du client, à l'opérateur de votre serveur Appel.",
    }

    CALL_CANCELLED = CodeOnly(487, None, ExpectedError, retryable: false) {
        en: "The call was cancelled: it was stopped or declined on this side, the two ends turned out to be incompatible, or the media offer could not be created." => "This is usually expected. If the user did not cancel the call, review the app's call handling and check that both sides use compatible Appel SDK versions.",
        fr: "L'appel a été annulé, parce qu'il a été interrompu ou refusé de ce côté, que les deux extrémités se sont révélées incompatibles, ou que l'offre média n'a pas pu être créée." => "C'est généralement le comportement attendu. Si l'utilisateur n'a pas annulé l'appel, vérifiez la gestion des appels dans l'application et que les deux côtés utilisent des versions compatibles du SDK Appel.",
    }

    LOCAL_NETWORK_ERROR_490 = CodeOnly(490, None, UnexpectedClientError, retryable: true) {
        en: "A network request that the SDK on this device needed could not be completed." => "Check the device's network connection and that it can reach the Appel server (DNS, proxy, firewall), then try again.",
        fr: "Une requête réseau dont le SDK de cet appareil avait besoin n'a pas pu aboutir." => "Vérifiez la connexion réseau de l'appareil et qu'il peut joindre le serveur Appel (DNS, proxy, pare-feu), puis réessayez.",
    }

    LOCAL_NETWORK_ERROR_491 = CodeOnly(491, None, UnexpectedClientError, retryable: true) {
        en: "A request from this device was turned down because a conflicting request was still pending." => "Wait a moment for the pending operation to finish, then try again. If it keeps happening, check the network for delays and avoid firing overlapping call actions.",
        fr: "Une requête de cet appareil a été refusée, car une requête concurrente était encore en attente." => "Attendez quelques instants que l'opération en cours se termine, puis réessayez. Si cela se répète, vérifiez que le réseau n'introduit pas de retards et évitez d'enchaîner des actions d'appel qui se chevauchent.",
    }

    LOCAL_NETWORK_ERROR_496 = CodeOnly(496, None, UnexpectedClientError, retryable: true) {
        en: "The network connection of this device dropped." => "Check that the device is online and that its connection is stable, then try again.",
        fr: "La connexion réseau de cet appareil a été coupée." => "Vérifiez que l'appareil est en ligne et que sa connexion est stable, puis réessayez.",
    }

    LOCAL_NETWORK_ERROR_497 = CodeOnly(497, None, UnexpectedClientError, retryable: true) {
        en: "The network rejected the secure connection between this device and the server." => "Look for a proxy, a firewall or a public Wi-Fi login page that blocks or inspects encrypted traffic, check that the device's date and time are correct, then try again on a network that allows the connection.",
        fr: "Le réseau a refusé la connexion sécurisée entre cet appareil et le serveur." => "Recherchez un proxy, un pare-feu ou une page de connexion de Wi-Fi public qui bloque ou inspecte le trafic chiffré, vérifiez que la date et l'heure de l'appareil sont exactes, puis réessayez sur un réseau qui autorise la connexion.",
    }

    LOCAL_NETWORK_ERROR_498 = CodeOnly(498, None, UnexpectedClientError, retryable: true) {
        en: "The secure connection between this device and the server was broken by the network." => "Retry on a stable network. If it recurs, look for a proxy or security appliance that interrupts encrypted connections, and check the device's date and time.",
        fr: "La connexion sécurisée entre cet appareil et le serveur a été rompue par le réseau." => "Réessayez sur un réseau stable. Si cela se reproduit, recherchez un proxy ou un équipement de sécurité qui interrompt les connexions chiffrées, et vérifiez la date et l'heure de l'appareil.",
    }

    INTERNAL_SERVER_ERROR = CodeOnly(500, None, UnexpectedServerError, retryable: true) {
        en: "The Appel server ran into an internal error." => "Retry after a moment. If the error persists, collect the call id, the time and client logs and report them to the operator of your Appel server.",
        fr: "Le serveur Appel a rencontré une erreur interne." => "Réessayez dans un instant. Si l'erreur persiste, rassemblez l'identifiant de l'appel, l'heure et les journaux du client, et signalez-les à l'opérateur de votre serveur Appel.",
    }

    SERVICE_UNAVAILABLE = CodeOnly(503, None, UnexpectedServerError, retryable: true) {
        en: "The Appel server, or a service it depends on, is temporarily unavailable." => "Wait a little and retry. If it stays unavailable, let the operator of your Appel server know, giving the call id and time.",
        fr: "Le serveur Appel, ou un service dont il dépend, est momentanément indisponible." => "Patientez un peu et réessayez. S'il reste indisponible, prévenez l'opérateur de votre serveur Appel en indiquant l'identifiant et l'heure de l'appel.",
    }

    SERVER_TIMEOUT = CodeOnly(504, None, UnexpectedServerError, retryable: true) {
        en: "A component on the server side did not answer in time." => "Retry shortly. If timeouts continue, report the call id and time, with client logs, to the operator of your Appel server.",
        fr: "Un composant côté serveur n'a pas répondu à temps." => "Réessayez sous peu. Si les expirations continuent, signalez l'identifiant et l'heure de l'appel, avec les journaux du client, à l'opérateur de votre serveur Appel.",
    }

    BUSY_EVERYWHERE = CodeOnly(600, None, ExpectedError, retryable: true) {
        en: "The person you called was reached but is busy on every device." => "This is expected. Let the user know the other party is busy and suggest calling again later.",
        fr: "La personne appelée a été jointe, mais elle est occupée sur tous ses appareils." => "C'est attendu. Indiquez à l'utilisateur que son correspondant est occupé et proposez de rappeler plus tard.",
    }

    DECLINED_EVERYWHERE = CodeOnly(603, None, ExpectedError, retryable: false) {
        en: "The other party declined the call everywhere it was offered." => "This is expected. Show the call as declined; calling again right away will most likely be declined too.",
        fr: "Le correspondant a refusé l'appel partout où il lui a été présenté." => "C'est attendu. Affichez l'appel comme refusé. Rappeler aussitôt aboutira sans doute au même refus.",
    }

    DOES_NOT_EXIST_ANYWHERE = CodeOnly(604, None, ExpectedError, retryable: false) {
        en: "The identity or number you called does not exist anywhere." => "Check the identifier or phone number for mistakes; retrying with the same value will not help.",
        fr: "L'identité ou le numéro appelé n'existe nulle part." => "Vérifiez que l'identifiant ou le numéro ne comporte pas d'erreur. Réessayer avec la même valeur ne servira à rien.",
    }

    NOT_ACCEPTABLE = CodeOnly(606, None, ExpectedError, retryable: false) {
        en: "The other side was reached but cannot support the session that was proposed, such as its media types or codecs." => "Check that both sides use compatible apps and SDK versions and support the requested media; for example, try an audio-only call.",
        fr: "Le correspondant a été joint, mais il ne peut pas prendre en charge la session proposée, par exemple ses types de médias ou ses codecs." => "Vérifiez que les deux côtés utilisent des applications et des versions du SDK compatibles et prennent en charge les médias demandés. Essayez par exemple un appel audio seul.",
    }
}
