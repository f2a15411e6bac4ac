//! Reasons a call or a participant's leg ended (`callEndReason`), sorted by subcode then code.

entries! {
    CALL_END;

    CALL_ENDED_LOCALLY = CallEnd(0, Some(0), Success, retryable: false) {
        en: "The call ended normally because this participant hung up." => "Nothing needs fixing. The app can return to its idle screen or show a summary of the call.",
        fr: "L'appel s'est terminé normalement, car ce participant a raccroché." => "Aucune correction n'est nécessaire. L'application peut revenir à son écran d'accueil ou afficher un récapitulatif de l'appel.",
    }

    CALL_CANCELLED_BY_CALLER = CallEnd(487, Some(0), Success, retryable: false) {
        en: "The caller hung up before anyone answered, so this incoming call stopped ringing." => "Nothing is wrong. Stop the ringtone, close the incoming-call screen and log a missed call the user can return.",
        fr: "L'appelant a raccroché avant que quiconque ne réponde, cet appel entrant a donc cessé de sonner." => "Rien d'anormal. Arrêtez la sonnerie, fermez l'écran d'appel entrant et enregistrez un appel manqué que l'utilisateur pourra rappeler.",
    }

    CALL_DECLINED = CallEnd(603, Some(0), Success, retryable: false) {
        en: "The person you called declined the call." => "This is a normal outcome, not a fault. Show the call as declined and let the user try again later or reach the person another way.",
        fr: "La personne appelée a refusé l'appel." => "C'est une issue normale, pas une panne. Affichez l'appel comme refusé et proposez de réessayer plus tard ou de joindre la personne autrement.",
    }

    NETWORK_LOST = CallEnd(496, Some(7), ExpectedError, retryable: true) {
        en: "This device lost its network connection and could not reconnect before the reconnect grace period (120 seconds by default) ran out, so it left the call." => "Check that the device is online (Wi-Fi, mobile data, VPN, proxy), then join or place the call again. If drops are frequent, look for an unstable network or a firewall that cuts long-lived connections.",
        fr: "Cet appareil a perdu sa connexion réseau et n'a pas pu se reconnecter avant la fin du délai de reconnexion (120 secondes par défaut). Il a donc quitté l'appel." => "Vérifiez que l'appareil est bien en ligne (Wi-Fi, données mobiles, VPN, proxy), puis rejoignez ou relancez l'appel. Si les coupures se répètent, cherchez un réseau instable ou un pare-feu qui coupe les connexions de longue durée.",
    }

    MEDIA_SETUP_FAILED = CallEnd(410, Some(3100), UnexpectedClientError, retryable: true) {
        en: "The call could not start because this device failed to establish its audio and video connection: the connectivity checks found no working network path." => "Retry the call. If it keeps failing, check that the network allows UDP traffic and the ports of the server's media relay (TURN), or try another network. If nothing helps, send the call id and client logs to whoever runs your Appel server.",
        fr: "L'appel n'a pas pu démarrer, car cet appareil n'a pas réussi à établir sa connexion audio et vidéo (les vérifications de connectivité n'ont trouvé aucun chemin réseau utilisable)." => "Relancez l'appel. Si l'échec persiste, vérifiez que le réseau laisse passer le trafic UDP et les ports du relais média (TURN) du serveur, ou essayez un autre réseau. Si rien n'y fait, transmettez l'identifiant de l'appel et les journaux du client à la personne qui administre votre serveur Appel.",
    }

    MEDIA_CONNECTION_LOST = CallEnd(410, Some(3101), UnexpectedClientError, retryable: true) {
        en: "The media connection of this device broke during the call and could not be restored, so the call ended." => "Rejoin or call again once the network is stable. Repeated drops usually point to a weak Wi-Fi or mobile signal, a change of network, or a VPN or firewall interrupting UDP traffic.",
        fr: "La connexion média de cet appareil a été rompue pendant l'appel et n'a pas pu être rétablie, l'appel a donc pris fin." => "Rejoignez l'appel ou rappelez une fois le réseau stabilisé. Des coupures répétées viennent souvent d'un signal Wi-Fi ou mobile faible, d'un changement de réseau, ou d'un VPN ou pare-feu qui interrompt le trafic UDP.",
    }

    MEDIA_OFFER_INVALID = CallEnd(410, Some(3111), UnexpectedClientError, retryable: true) {
        en: "The call could not be set up because the media description exchanged while connecting (the SDP offer or answer) could not be processed." => "Try again. If it happens again, check that both sides run a supported, up-to-date Appel SDK, then gather the call id and client logs and report them to the operator of your Appel server.",
        fr: "L'appel n'a pas pu être établi, car la description média échangée pendant la connexion (l'offre ou la réponse SDP) n'a pas pu être traitée." => "Réessayez. Si le problème se reproduit, vérifiez que les deux côtés utilisent une version récente et prise en charge du SDK Appel, puis signalez-le à l'opérateur de votre serveur Appel avec l'identifiant de l'appel et les journaux du client.",
    }

    MEDIA_BLOCKED_BY_NETWORK = CallEnd(410, Some(3112), ExpectedError, retryable: false) {
        en: "The call could not be set up because this device's network blocks media traffic: not even a path relayed through the server could be used." => "Retrying on the same network will not help. Ask the network administrator to allow UDP (or TCP/TLS) traffic to the media relay ports of the Appel server, turn off a restrictive VPN or proxy, or switch to another network.",
        fr: "L'appel n'a pas pu être établi, car le réseau de cet appareil bloque le trafic média et aucun chemin, même relayé par le serveur, n'est utilisable." => "Réessayer sur le même réseau ne servira à rien. Demandez à l'administrateur réseau d'autoriser le trafic UDP (ou TCP/TLS) vers les ports du relais média du serveur Appel, désactivez un VPN ou un proxy trop restrictif, ou changez de réseau.",
    }

    ENDED_FOR_EVERYONE = CallEnd(0, Some(4097), Success, retryable: false) {
        en: "The organizer, or another participant allowed to do so, ended the call for everyone." => "Nothing needs fixing. Tell the user the call is over; to keep talking, someone has to start a new call.",
        fr: "L'organisateur, ou un autre participant qui en a le droit, a mis fin à l'appel pour tout le monde." => "Aucune correction n'est nécessaire. Indiquez à l'utilisateur que l'appel est terminé. Pour poursuivre la conversation, il faut lancer un nouvel appel.",
    }

    HTTP_REQUEST_FAILED = CallEnd(490, Some(4502), UnexpectedClientError, retryable: true) {
        en: "The call failed because an HTTP request the SDK needed could not be completed over the network." => "Check the device's connectivity and that the Appel server's address is reachable (DNS, proxy, firewall), then retry. If it persists, collect the call id and client logs, plus the browser console for a web app, and send them to the operator of your Appel server.",
        fr: "L'appel a échoué, car une requête HTTP indispensable au SDK n'a pas pu aboutir sur le réseau." => "Vérifiez la connectivité de l'appareil et que l'adresse du serveur Appel est joignable (DNS, proxy, pare-feu), puis réessayez. Si le problème persiste, rassemblez l'identifiant de l'appel et les journaux du client, ainsi que la console du navigateur pour une application web, et transmettez-les à l'opérateur de votre serveur Appel.",
    }

    CALL_SETUP_TIMEOUT = CallEnd(408, Some(4506), UnexpectedClientError, retryable: true) {
        en: "The call timed out during setup because the server did not confirm it within the establishment limit (85 seconds by default)." => "Check whether the other side actually received and accepted the call, then try again. If setups keep timing out, examine the network between client and server and report the call id, with client logs, to the operator of your Appel server.",
        fr: "Le délai d'établissement de l'appel a expiré, car le serveur ne l'a pas confirmé à temps (85 secondes par défaut)." => "Vérifiez si le correspondant a bien reçu et accepté l'appel, puis réessayez. Si les établissements continuent d'expirer, examinez le réseau entre le client et le serveur et signalez l'identifiant de l'appel, accompagné des journaux du client, à l'opérateur de votre serveur Appel.",
    }

    TOKEN_EXPIRED_DURING_CALL = CallEnd(495, Some(4507), UnexpectedClientError, retryable: false) {
        en: "This participant was dropped from the call because its access token expired and the application did not provide a valid new one." => "Make sure the application refreshes tokens: hand the SDK a fresh token when it asks (10 minutes before expiry by default) and keep your token service reachable. Then join the call again.",
        fr: "Ce participant a été exclu de l'appel, car son jeton d'accès a expiré et l'application ne lui en a pas fourni de nouveau valide." => "Vérifiez que l'application renouvelle bien les jetons, en fournissant un nouveau jeton au SDK dès qu'il le demande (10 minutes avant l'expiration par défaut), et que votre service de jetons reste joignable. Rejoignez ensuite l'appel.",
    }

    ABRUPT_DISCONNECT = CallEnd(0, Some(4521), ExpectedError, retryable: true) {
        en: "This participant disconnected abruptly without hanging up, for example by closing the app or browser tab, and did not come back within 40 seconds." => "The other participants have nothing to do, and the participant can simply rejoin. Apps can avoid this by hanging up properly when the page or app is being closed.",
        fr: "Ce participant s'est déconnecté brusquement sans raccrocher, par exemple en fermant l'application ou l'onglet du navigateur, et n'est pas revenu dans les 40 secondes." => "Les autres participants n'ont rien à faire, et le participant peut simplement rejoindre l'appel. Pour éviter ce cas, l'application peut raccrocher proprement lorsque la page ou l'application se ferme.",
    }

    REMOVED_BY_PARTICIPANT = CallEnd(0, Some(5000), Success, retryable: false) {
        en: "This participant was removed from the call by another participant." => "Nothing is broken. Tell the user they were removed; whether they may come back depends on the other participants and the app's rules.",
        fr: "Ce participant a été retiré de l'appel par un autre participant." => "Rien n'est en panne. Informez l'utilisateur qu'il a été retiré. La possibilité de revenir dépend des autres participants et des règles de l'application.",
    }

    ALL_TARGETS_DECLINED = CallEnd(0, Some(5003), Success, retryable: false) {
        en: "The call ended because every device of every person you called declined it." => "This is a normal outcome. Show the call as declined and offer to try again later.",
        fr: "L'appel a pris fin, car tous les appareils de toutes les personnes appelées l'ont refusé." => "C'est une issue normale. Affichez l'appel comme refusé et proposez de réessayer plus tard.",
    }

    REMOVED_BY_SERVER = CallEnd(0, Some(5300), Success, retryable: false) {
        en: "This participant was removed from the call by the server, through the call-control API." => "Nothing needs fixing on the client. The removal was decided by the application's server; review its logic or logs if it was unexpected.",
        fr: "Ce participant a été retiré de l'appel par le serveur, au moyen de l'API de contrôle des appels." => "Rien à corriger côté client. Le retrait a été décidé par le serveur de l'application. Consultez sa logique ou ses journaux si ce retrait était inattendu.",
    }

    REMOVED_ROLE_CHANGED = CallEnd(0, Some(5317), ExpectedError, retryable: false) {
        en: "This participant was removed from the call because its role in the room changed or it was taken off the room's participant list." => "If this was not intended, ask whoever manages the room to restore the role or the roster entry, then join again.",
        fr: "Ce participant a été retiré de l'appel, car son rôle dans la salle a changé ou il a été supprimé de la liste des participants de la salle." => "Si ce n'était pas voulu, demandez au gestionnaire de la salle de rétablir le rôle ou l'inscription, puis rejoignez l'appel.",
    }

    ROOM_NOT_INVITED = CallEnd(403, Some(5828), UnexpectedClientError, retryable: false) {
        en: "You cannot join this room because your identity is not on its participant list." => "Ask whoever manages the room to add this identity to it, or check that the app joins the right room with the right identity.",
        fr: "Vous ne pouvez pas rejoindre cette salle, car votre identité ne figure pas dans sa liste de participants." => "Demandez au gestionnaire de la salle d'y ajouter cette identité, ou vérifiez que l'application rejoint la bonne salle avec la bonne identité.",
    }

    ROOM_OUTSIDE_VALIDITY = CallEnd(403, Some(5829), UnexpectedClientError, retryable: false) {
        en: "You cannot join this room now because it is outside the room's validity window, either before its start time or after its end time." => "Join during the room's validity period, or ask whoever manages the room to change its start or end time.",
        fr: "Vous ne pouvez pas rejoindre cette salle maintenant, car vous êtes en dehors de sa période de validité, soit avant son début, soit après sa fin." => "Rejoignez la salle pendant sa période de validité, ou demandez à son gestionnaire de modifier l'heure de début ou de fin.",
    }

    ROOM_USER_KIND_NOT_ALLOWED = CallEnd(403, Some(5830), ExpectedError, retryable: false) {
        en: "Only Appel users can join rooms; this identity is a phone number or a federated identity, which rooms do not accept." => "Join with an Appel user identity instead, or use an ordinary call rather than a room when phone numbers or federated users must take part.",
        fr: "Seuls les utilisateurs Appel peuvent rejoindre une salle. Cette identité est un numéro de téléphone ou une identité fédérée, que les salles n'acceptent pas." => "Rejoignez la salle avec une identité d'utilisateur Appel, ou utilisez un appel ordinaire plutôt qu'une salle lorsque des numéros de téléphone ou des utilisateurs fédérés doivent participer.",
    }

    ENDED_BY_SERVER = CallEnd(0, Some(7000), Success, retryable: false) {
        en: "The call was ended for everyone by the server, through the call-control API or a server-side bot." => "Nothing needs fixing on the client. If the end was unexpected, check the application server or bot that controls the call.",
        fr: "L'appel a été terminé pour tout le monde par le serveur, au moyen de l'API de contrôle des appels ou d'un bot côté serveur." => "Rien à corriger côté client. Si cette fin était inattendue, vérifiez le serveur de l'application ou le bot qui pilote l'appel.",
    }

    CALL_ACCEPTED_ELSEWHERE = CallEnd(487, Some(10003), Success, retryable: false) {
        en: "The call was answered on another of your devices, so it stopped ringing here." => "Nothing is wrong: only one device can take a call. Close the incoming-call screen without logging a missed call.",
        fr: "L'appel a été pris sur un autre de vos appareils, il a donc cessé de sonner ici." => "Rien d'anormal, un seul appareil peut prendre un appel. Fermez l'écran d'appel entrant sans enregistrer d'appel manqué.",
    }

    RINGING_TIMEOUT = CallEnd(487, Some(10004), ExpectedError, retryable: true) {
        en: "Nobody answered or declined the call before the ringing timeout (120 seconds by default), so it was cancelled." => "Make sure the person called gets notified (ringtone, push notifications) and that their app handles incoming calls, then try again later. On the callee's side, the app can show a missed call.",
        fr: "Personne n'a répondu ni refusé l'appel avant la fin du délai de sonnerie (120 secondes par défaut), il a donc été annulé." => "Vérifiez que la personne appelée est bien prévenue (sonnerie, notifications push) et que son application traite les appels entrants, puis réessayez plus tard. Du côté de l'appelé, l'application peut afficher un appel manqué.",
    }

    UNAUTHENTICATED = CallEnd(401, Some(10009), UnexpectedClientError, retryable: false) {
        en: "The server could not authenticate this identity because its access token was missing, invalid, expired or revoked." => "Get a fresh token from your token service and create the call agent again. Check that the token was issued for this Appel server and has not been revoked.",
        fr: "Le serveur n'a pas pu authentifier cette identité, car son jeton d'accès était absent, invalide, expiré ou révoqué." => "Obtenez un nouveau jeton auprès de votre service de jetons et recréez l'agent d'appel. Vérifiez que le jeton a bien été émis pour ce serveur Appel et qu'il n'a pas été révoqué.",
    }

    ALL_ENDPOINTS_DECLINED = CallEnd(487, Some(10024), Success, retryable: false) {
        en: "The person you called declined the call on every device where it was ringing." => "This is a normal outcome. Show the call as declined and let the user call again later.",
        fr: "La personne appelée a refusé l'appel sur chacun des appareils où il sonnait." => "C'est une issue normale. Affichez l'appel comme refusé et permettez à l'utilisateur de rappeler plus tard.",
    }

    TARGET_NEVER_REGISTERED = CallEnd(480, Some(10037), ExpectedError, retryable: false) {
        en: "The person you called has never had a device registered with this server, or the identity does not exist." => "Check that the target identifier is correct and that the callee's app creates a call agent after signing in; calls can only ring once it has done so at least once.",
        fr: "La personne appelée n'a jamais eu d'appareil inscrit sur ce serveur, ou cette identité n'existe pas." => "Vérifiez que l'identifiant de la cible est correct et que l'application de l'appelé crée bien un agent d'appel après la connexion. Les appels ne peuvent sonner qu'une fois cette étape effectuée au moins une fois.",
    }

    CALLEE_SETUP_INCOMPLETE = CallEnd(408, Some(10057), ExpectedError, retryable: true) {
        en: "The call was accepted but the callee's side never finished connecting, most likely because it lost its network or its app closed abruptly." => "Check that both devices are online and that their apps stay open while the call connects, then call again.",
        fr: "L'appel a été accepté, mais le côté de l'appelé n'a jamais fini de se connecter, très probablement à cause d'une perte de réseau ou d'une fermeture brutale de son application." => "Vérifiez que les deux appareils sont en ligne et que leurs applications restent ouvertes pendant la mise en relation, puis rappelez.",
    }

    TARGET_OFFLINE = CallEnd(480, Some(10076), ExpectedError, retryable: true) {
        en: "The person you called has used Appel before, but none of their devices was connected at the time of the call." => "Try again when they are online. If they should have been reachable, check that their app keeps its call agent connected, or enable push notifications so the app can be woken up.",
        fr: "La personne appelée a déjà utilisé Appel, mais aucun de ses appareils n'était connecté au moment de l'appel." => "Réessayez lorsqu'elle sera en ligne. Si elle aurait dû être joignable, vérifiez que son application garde son agent d'appel connecté, ou activez les notifications push pour pouvoir réveiller l'application.",
    }

    TARGET_OFFLINE_AFTER_PUSH = CallEnd(480, Some(10077), ExpectedError, retryable: true) {
        en: "None of the callee's devices was connected; a push notification was sent, but no device came online in time." => "Check the push notification setup (credentials, device registration, notification permissions on the phone) and that the app connects quickly when woken up, then try again.",
        fr: "Aucun appareil de la personne appelée n'était connecté. Une notification push a été envoyée, mais aucun appareil ne s'est connecté à temps." => "Vérifiez la configuration des notifications push (identifiants, inscription de l'appareil, autorisations de notification sur le téléphone) et que l'application se connecte rapidement à son réveil, puis réessayez.",
    }

    TARGET_UNREACHABLE = CallEnd(480, Some(10078), ExpectedError, retryable: true) {
        en: "The callee has devices registered, but none of them confirmed receiving the call in time." => "The callee's devices may have a poor or silently broken connection. Check that their app is running and can reach the Appel server, then call again.",
        fr: "La personne appelée a des appareils inscrits, mais aucun n'a confirmé à temps la réception de l'appel." => "Les appareils de l'appelé ont peut-être une connexion de mauvaise qualité ou coupée sans qu'ils le sachent. Vérifiez que son application fonctionne et peut joindre le serveur Appel, puis rappelez.",
    }

    MEDIA_SERVER_UNREACHED_DURING_SETUP = CallEnd(410, Some(301004), UnexpectedClientError, retryable: true) {
        en: "The media server removed this participant because it could not establish a media connection with it while the call was being set up." => "Make sure the user's network (home or office network, firewall, VPN) lets media traffic through to the Appel server, then rejoin.",
        fr: "Le serveur média a retiré ce participant, car il n'a pas pu établir de connexion média avec lui pendant l'établissement de l'appel." => "Assurez-vous que le réseau de l'utilisateur (réseau domestique ou d'entreprise, pare-feu, VPN) laisse passer le trafic média vers le serveur Appel, puis rejoignez l'appel.",
    }

    MEDIA_SERVER_CONNECTION_LOST = CallEnd(410, Some(301005), UnexpectedClientError, retryable: true) {
        en: "The media server lost contact with this participant during the call and removed it, typically after a network drop or an abrupt app shutdown." => "The participant can rejoin the call. If it keeps happening, check the stability of the network and that the app uses a current, supported Appel SDK.",
        fr: "Le serveur média a perdu le contact avec ce participant pendant l'appel et l'a retiré, en général après une coupure réseau ou une fermeture brutale de l'application." => "Le participant peut rejoindre l'appel. Si cela se répète, vérifiez la stabilité du réseau et que l'application utilise une version récente et prise en charge du SDK Appel.",
    }

    PSTN_OUTBOUND_REFUSED = CallEnd(403, Some(510403), ExpectedError, retryable: false) {
        en: "The outgoing call to a phone number was refused because no caller number was available, no route matched the destination, the trunk rejected it, or it was flagged as spam." => "Check that the caller presents a phone number owned by the server, that an outbound route covers this destination and that the SIP trunk accepts the call. If the number has been flagged as spam, take it up with the trunk provider.",
        fr: "L'appel sortant vers un numéro de téléphone a été refusé, faute de numéro d'appelant disponible ou de route correspondant à la destination, ou parce que le trunk l'a rejeté ou signalé comme indésirable." => "Vérifiez que l'appelant présente un numéro détenu par le serveur, qu'une route sortante couvre cette destination et que le trunk SIP accepte l'appel. Si le numéro a été signalé comme indésirable, voyez-le avec le fournisseur du trunk.",
    }

    PSTN_CALLER_HUNG_UP = CallEnd(0, Some(540000), Success, retryable: false) {
        en: "The phone caller of this inbound call hung up, ending the call normally." => "Nothing needs fixing. The app can show the call as ended and offer to call the number back.",
        fr: "L'appelant téléphonique de cet appel entrant a raccroché, l'appel s'est donc terminé normalement." => "Aucune correction n'est nécessaire. L'application peut afficher l'appel comme terminé et proposer de rappeler le numéro.",
    }

    PSTN_CALLER_CANCELLED = CallEnd(487, Some(540487), Success, retryable: false) {
        en: "The phone caller of this inbound call hung up before it was answered." => "Nothing is wrong. Log a missed call from that number and offer to call it back.",
        fr: "L'appelant téléphonique de cet appel entrant a raccroché avant qu'on lui réponde." => "Rien d'anormal. Enregistrez un appel manqué de ce numéro et proposez de le rappeler.",
    }

    PSTN_REMOTE_HUNG_UP = CallEnd(0, Some(560000), Success, retryable: false) {
        en: "The person reached by phone in this outbound call hung up, ending the call normally." => "Nothing needs fixing. Show the call as ended; the user can dial the number again if needed.",
        fr: "Le correspondant joint par téléphone lors de cet appel sortant a raccroché, l'appel s'est donc terminé normalement." => "Aucune correction n'est nécessaire. Affichez l'appel comme terminé. L'utilisateur peut recomposer le numéro si besoin.",
    }

    PSTN_REMOTE_BUSY = CallEnd(486, Some(560486), Success, retryable: true) {
        en: "The phone number you called was busy (the trunk answered SIP 486): it was already on a call or could not take one." => "This is a normal outcome. Tell the user the line is busy and suggest calling again in a few minutes. If calls to working numbers keep coming back busy, check the trunk's settings and timeouts.",
        fr: "Le numéro appelé était occupé (le trunk a répondu SIP 486), car il était déjà en communication ou ne pouvait pas prendre l'appel." => "C'est une issue normale. Indiquez à l'utilisateur que la ligne est occupée et proposez de rappeler dans quelques minutes. Si les appels vers des numéros valides reviennent sans cesse occupés, vérifiez la configuration et les délais du trunk.",
    }
}
