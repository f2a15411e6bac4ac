//! Appel's own entries (subcodes 900000–999999): reasons the source document lacks. Sorted by subcode.
//!
//! 900000–900099 signaling protocol, 900100–900199 REST and identities, 900200–900299 call operations,
//! 900300–900399 server-side call ends, 900800–900899 the load tool (`appel bench`), 900900–900999
//! command-line and local input.

entries! {
    ADDITIONS;

    FRAME_TOO_LARGE = Sdk(413, Some(900001), UnexpectedClientError, retryable: false) {
        en: "A signaling frame was larger than the server accepts, so it was discarded."
            => "Keep each frame under the server's frame limit (signaling.max_frame_bytes). If an unmodified SDK sent it, report it with the SDK version.",
        fr: "Une trame de signalisation dépassait la taille acceptée par le serveur ; elle a été ignorée."
            => "Gardez chaque trame sous la limite du serveur (signaling.max_frame_bytes). Si un SDK non modifié l'a envoyée, signalez-le avec la version du SDK.",
    }

    MALFORMED_FRAME = Sdk(400, Some(900002), UnexpectedClientError, retryable: false) {
        en: "A signaling frame was not valid JSON or did not match the shape of its type, so it was discarded."
            => "Send frames exactly as docs/protocol.md describes them. If an unmodified SDK sent it, report it with the SDK version.",
        fr: "Une trame de signalisation n'était pas du JSON valide ou ne respectait pas la forme de son type ; elle a été ignorée."
            => "Envoyez les trames exactement comme les décrit docs/protocol.md. Si un SDK non modifié l'a envoyée, signalez-le avec la version du SDK.",
    }

    UNKNOWN_FRAME_TYPE = Sdk(400, Some(900003), UnexpectedClientError, retryable: false) {
        en: "A signaling frame had a type this server does not know, so it was discarded."
            => "Check that the SDK and the server speak the same protocol version; update whichever is older.",
        fr: "Une trame de signalisation avait un type que ce serveur ne connaît pas ; elle a été ignorée."
            => "Vérifiez que le SDK et le serveur parlent la même version du protocole ; mettez à jour le plus ancien des deux.",
    }

    PROTOCOL_VERSION_UNSUPPORTED = Sdk(426, Some(900004), ExpectedError, retryable: false) {
        en: "The client asked for a signaling protocol version this server does not support."
            => "Use an SDK release that matches the server, or upgrade the server.",
        fr: "Le client a demandé une version du protocole de signalisation que ce serveur ne prend pas en charge."
            => "Utilisez une version du SDK adaptée au serveur, ou mettez le serveur à jour.",
    }

    HANDSHAKE_EXPECTED = Sdk(400, Some(900005), UnexpectedClientError, retryable: false) {
        en: "The first signaling frame was not a handshake, or a second handshake was sent."
            => "Open each signaling connection with exactly one hello frame and wait for the welcome before anything else.",
        fr: "La première trame de signalisation n'était pas une poignée de main, ou une seconde poignée de main a été envoyée."
            => "Ouvrez chaque connexion de signalisation par une seule trame hello et attendez l'accueil avant tout autre envoi.",
    }

    SIGNAL_TOO_LARGE = Sdk(413, Some(900006), UnexpectedClientError, retryable: false) {
        en: "A signal frame was larger than the server relays, so it was not passed on; the connection stays open."
            => "Keep each signal (SDP or ICE candidate) under the server's signal limit (signaling.max_signal_bytes); split or trim what you send. If an unmodified SDK sent it, report it with the SDK version.",
        fr: "Une trame signal dépassait la taille que le serveur relaie ; elle n'a pas été transmise et la connexion reste ouverte."
            => "Gardez chaque signal (SDP ou candidat ICE) sous la limite du serveur (signaling.max_signal_bytes) ; découpez ou allégez ce que vous envoyez. Si un SDK non modifié l'a envoyée, signalez-le avec la version du SDK.",
    }

    SIGNAL_RATE_EXCEEDED = Sdk(429, Some(900007), UnexpectedClientError, retryable: true) {
        en: "This endpoint sent signals faster than the server relays them, so this one was not passed on; the connection stays open."
            => "Send less signaling data per second (signaling.signal_rate and signaling.signal_burst, counted per started KiB of each signal); wait a moment before sending again.",
        fr: "Ce point d'accès a envoyé des signaux plus vite que le serveur ne les relaie ; celui-ci n'a pas été transmis et la connexion reste ouverte."
            => "Envoyez moins de données de signalisation par seconde (signaling.signal_rate et signaling.signal_burst, comptés par Kio entamé de chaque signal) ; patientez un instant avant de renvoyer.",
    }

    FRAME_RATE_EXCEEDED = Sdk(429, Some(900020), UnexpectedClientError, retryable: true) {
        en: "This endpoint sent signaling frames faster than the server takes them, so this one was not handled; the connection stays open."
            => "Send fewer frames per second (signaling.frame_rate and signaling.frame_burst) and wait a moment before sending again; a connection that keeps sending far past the limit is closed.",
        fr: "Ce point d'accès a envoyé des trames de signalisation plus vite que le serveur ne les accepte ; celle-ci n'a pas été traitée et la connexion reste ouverte."
            => "Envoyez moins de trames par seconde (signaling.frame_rate et signaling.frame_burst) et patientez un instant avant de renvoyer ; une connexion qui continue bien au-delà de la limite est fermée.",
    }

    FRAME_FLOOD = Sdk(429, Some(900021), UnexpectedClientError, retryable: false) {
        en: "This connection kept sending signaling frames far beyond the server's rate limit after being told to slow down, so the server closed it."
            => "Stop sending when frames are refused with the rate limit error and wait before sending again (signaling.frame_rate, signaling.frame_burst, signaling.frame_excess). If an unmodified SDK did this, report it with the SDK version.",
        fr: "Cette connexion a continué d'envoyer des trames de signalisation bien au-delà de la limite du serveur après avoir été priée de ralentir ; le serveur l'a fermée."
            => "Cessez d'envoyer dès que des trames sont refusées pour dépassement de débit et patientez avant de reprendre (signaling.frame_rate, signaling.frame_burst, signaling.frame_excess). Si un SDK non modifié l'a fait, signalez-le avec la version du SDK.",
    }

    OUTGOING_CALLS_LIMIT = Sdk(429, Some(900022), ExpectedError, retryable: true) {
        en: "This identity already has as many unanswered outgoing calls as the server allows, so the new call was not started and nobody was rung."
            => "End or wait for an answer to one of the calls already ringing before starting another (limits.max_outgoing_calls_per_identity).",
        fr: "Cette identité a déjà autant d'appels sortants sans réponse que le serveur le permet ; le nouvel appel n'a pas été lancé et personne n'a été appelé."
            => "Terminez un des appels qui sonnent déjà, ou attendez qu'on y réponde, avant d'en lancer un autre (limits.max_outgoing_calls_per_identity).",
    }

    ACCESS_KEY_INVALID = Sdk(401, Some(900100), ExpectedError, retryable: false) {
        en: "The request did not carry the server's access key."
            => "Send the access key as a bearer token from your application's backend only; never ship it to clients.",
        fr: "La requête ne portait pas la clé d'accès du serveur."
            => "Envoyez la clé d'accès comme jeton porteur, depuis le serveur de votre application uniquement ; ne la distribuez jamais aux clients.",
    }

    IDENTITY_NOT_FOUND = Sdk(404, Some(900101), ExpectedError, retryable: false) {
        en: "No identity with that id exists on this server."
            => "Create the identity first, and check that it was not deleted.",
        fr: "Aucune identité portant cet identifiant n'existe sur ce serveur."
            => "Créez d'abord l'identité, et vérifiez qu'elle n'a pas été supprimée.",
    }

    INVALID_REQUEST = Sdk(400, Some(900102), ExpectedError, retryable: false) {
        en: "The request body or one of its parameters is not valid."
            => "Compare the request with the OpenAPI document at /openapi.json; the detail names the field at fault.",
        fr: "Le corps de la requête ou l'un de ses paramètres n'est pas valide."
            => "Comparez la requête au document OpenAPI publié sur /openapi.json ; le détail nomme le champ en cause.",
    }

    TOKEN_LIFETIME_OUT_OF_RANGE = Sdk(400, Some(900103), ExpectedError, retryable: false) {
        en: "The requested token lifetime is outside the allowed range of 60 to 1440 minutes."
            => "Ask for a lifetime between 60 and 1440 minutes, or omit it to get 24 hours.",
        fr: "La durée de vie demandée pour le jeton sort de la plage autorisée de 60 à 1440 minutes."
            => "Demandez une durée comprise entre 60 et 1440 minutes, ou omettez-la pour obtenir 24 heures.",
    }

    CALL_RECORD_NOT_FOUND = Sdk(404, Some(900104), ExpectedError, retryable: false) {
        en: "No call with that id is known to this server."
            => "Check the call id; records of calls are kept only on the server that handled them.",
        fr: "Aucun appel portant cet identifiant n'est connu de ce serveur."
            => "Vérifiez l'identifiant de l'appel ; les enregistrements ne sont conservés que sur le serveur qui a traité l'appel.",
    }

    ROUTE_NOT_FOUND = Sdk(404, Some(900110), UnexpectedClientError, retryable: false) {
        en: "Nothing is served at this address."
            => "Check the path against the OpenAPI document at /openapi.json; ids go in the path only where it shows them.",
        fr: "Rien n'est servi à cette adresse."
            => "Comparez le chemin au document OpenAPI publié sur /openapi.json ; les identifiants ne vont dans le chemin qu'aux endroits qu'il indique.",
    }

    METHOD_NOT_ALLOWED = Sdk(405, Some(900111), UnexpectedClientError, retryable: false) {
        en: "This address exists, but not for this HTTP method."
            => "Use one of the methods listed in the Allow header of the answer, as the OpenAPI document at /openapi.json describes.",
        fr: "Cette adresse existe, mais pas pour cette méthode HTTP."
            => "Employez l'une des méthodes de l'en-tête Allow de la réponse, comme le décrit le document OpenAPI publié sur /openapi.json.",
    }

    REQUEST_BODY_TOO_LARGE = Sdk(413, Some(900112), UnexpectedClientError, retryable: false) {
        en: "The request body is larger than the server accepts, so it was not read."
            => "Keep request bodies under the server's body limit (http.max_body_bytes, 1 MiB by default); split large rosters into several requests.",
        fr: "Le corps de la requête dépasse la taille acceptée par le serveur ; il n'a pas été lu."
            => "Gardez les corps de requête sous la limite du serveur (http.max_body_bytes, 1 Mio par défaut) ; découpez les grandes listes de participants en plusieurs requêtes.",
    }

    URI_TOO_LONG = Sdk(414, Some(900113), UnexpectedClientError, retryable: false) {
        en: "The request's address is longer than the server accepts."
            => "Keep the path and query under the server's limit (http.max_uri_bytes, 8 KiB by default); send long data in a body instead.",
        fr: "L'adresse de la requête est plus longue que ce qu'accepte le serveur."
            => "Gardez le chemin et la requête sous la limite du serveur (http.max_uri_bytes, 8 Kio par défaut) ; envoyez les données longues dans un corps.",
    }

    HEADERS_TOO_LARGE = Sdk(431, Some(900114), UnexpectedClientError, retryable: false) {
        en: "The request's headers are larger, or more numerous, than the server accepts."
            => "Send fewer or shorter headers: at most 64 of them, totalling under http.max_header_bytes (16 KiB by default). Look for a runaway cookie or proxy header.",
        fr: "Les en-têtes de la requête sont plus volumineux, ou plus nombreux, que ce qu'accepte le serveur."
            => "Envoyez des en-têtes moins nombreux ou plus courts : 64 au plus, pour un total sous http.max_header_bytes (16 Kio par défaut). Cherchez un cookie ou un en-tête de proxy qui enfle.",
    }

    REQUEST_READ_TIMEOUT = Sdk(408, Some(900115), UnexpectedClientError, retryable: true) {
        en: "The request body did not arrive in time, so the server stopped waiting for it and closed the connection."
            => "Send the whole body promptly after the headers (within http.body_read_timeout, 30 s by default); check for a stalled network or a client that never finishes its upload.",
        fr: "Le corps de la requête n'est pas arrivé à temps ; le serveur a cessé de l'attendre et a fermé la connexion."
            => "Envoyez tout le corps rapidement après les en-têtes (dans le délai http.body_read_timeout, 30 s par défaut) ; cherchez un réseau bloqué ou un client qui n'achève jamais son envoi.",
    }

    TOO_MANY_CONNECTIONS = Sdk(503, Some(900116), UnexpectedServerError, retryable: true) {
        en: "The server already holds as many HTTP connections as it allows, so this one was refused."
            => "Retry after a short pause and reuse connections (keep-alive) rather than opening many. Operators can raise http.max_connections.",
        fr: "Le serveur a déjà autant de connexions HTTP qu'il en admet ; celle-ci a été refusée."
            => "Réessayez après une courte pause et réutilisez les connexions (keep-alive) plutôt que d'en ouvrir beaucoup. L'exploitant peut augmenter http.max_connections.",
    }

    REQUEST_FIELD_TOO_LARGE = Sdk(400, Some(900117), ExpectedError, retryable: false) {
        en: "A field of the request is longer, or a list has more items, than the server stores."
            => "Keep the field named in the detail within the limit given there; every limit is listed in the OpenAPI document at /openapi.json (maxLength, maxItems).",
        fr: "Un champ de la requête est plus long, ou une liste compte plus d'éléments, que ce que le serveur enregistre."
            => "Gardez le champ nommé dans le détail sous la limite qui y est indiquée ; toutes les limites figurent dans le document OpenAPI publié sur /openapi.json (maxLength, maxItems).",
    }

    SERVER_NOT_READY = Sdk(503, Some(900118), UnexpectedServerError, retryable: true) {
        en: "The server is running but cannot take calls now: it is shutting down, or one of its parts (the database, the call controller, the records writer) does not answer."
            => "Send traffic to another server, or wait: a server that is starting or stopping is not ready for a few seconds. If it stays unready, the detail names the failing part; check the server's log and its data directory.",
        fr: "Le serveur fonctionne mais ne peut pas prendre d'appels pour l'instant : il s'arrête, ou l'une de ses parties (la base de données, le contrôleur d'appels, l'écriture des comptes rendus) ne répond pas."
            => "Dirigez le trafic vers un autre serveur, ou patientez : un serveur qui démarre ou s'arrête n'est pas prêt pendant quelques secondes. S'il reste indisponible, le détail nomme la partie en défaut ; consultez le journal du serveur et son répertoire de données.",
    }

    LISTEN_ADDRESS_IN_USE = Sdk(409, Some(900119), ExpectedError, retryable: true) {
        en: "The server cannot start: another program already listens on the address and port it was told to use."
            => "Stop the other program (`ss -ltnp` shows which one holds the port), or give this server another port with --listen or APPEL_LISTEN (port 0 picks a free one). A second `appel serve` on the same machine needs its own port and its own --data folder.",
        fr: "Le serveur ne peut pas démarrer : un autre programme écoute déjà sur l'adresse et le port qui lui ont été indiqués."
            => "Arrêtez l'autre programme (`ss -ltnp` montre lequel tient le port), ou donnez un autre port à ce serveur avec --listen ou APPEL_LISTEN (le port 0 en choisit un libre). Un second `appel serve` sur la même machine demande son propre port et son propre dossier --data.",
    }

    LISTEN_ADDRESS_FORBIDDEN = Sdk(403, Some(900120), ExpectedError, retryable: false) {
        en: "The server cannot start: the system does not let it listen on that address and port (ports below 1024 need privileges)."
            => "Use a port of 1024 or more and put a reverse proxy in front for 80 or 443, or grant the binary the right to bind low ports (`setcap cap_net_bind_service=+ep`, or the service manager's equivalent).",
        fr: "Le serveur ne peut pas démarrer : le système ne l'autorise pas à écouter sur cette adresse et ce port (les ports inférieurs à 1024 demandent des privilèges)."
            => "Utilisez un port à partir de 1024 et placez un proxy inverse devant pour 80 ou 443, ou accordez au binaire le droit d'ouvrir les ports bas (`setcap cap_net_bind_service=+ep`, ou l'équivalent du gestionnaire de services).",
    }

    LISTEN_ADDRESS_UNAVAILABLE = Sdk(400, Some(900121), ExpectedError, retryable: false) {
        en: "The server cannot start: the address it was told to listen on belongs to no network interface of this machine."
            => "Listen on an address this machine has (`ip addr` lists them), on 127.0.0.1 for local use, or on 0.0.0.0 for every interface; set it with --listen or APPEL_LISTEN.",
        fr: "Le serveur ne peut pas démarrer : l'adresse d'écoute indiquée n'appartient à aucune interface réseau de cette machine."
            => "Écoutez sur une adresse que la machine possède (`ip addr` les liste), sur 127.0.0.1 pour un usage local, ou sur 0.0.0.0 pour toutes les interfaces ; réglez-la avec --listen ou APPEL_LISTEN.",
    }

    PEOPLE_DIRECTORY_DISABLED = Sdk(403, Some(900122), ExpectedError, retryable: false) {
        en: "This server does not let signed-in users list the people it knows (directory.people is off)."
            => "Call people by the identity ids your application already knows, or ask the operator to turn directory.people on; an application backend can still list identities with the access key (GET /identities).",
        fr: "Ce serveur ne permet pas aux utilisateurs connectés de lister les personnes qu'il connaît (directory.people est désactivé)."
            => "Appelez les personnes par les identifiants que votre application connaît déjà, ou demandez à l'exploitant d'activer directory.people ; le serveur d'une application peut toujours lister les identités avec la clé d'accès (GET /identities).",
    }

    CALL_OPERATION_UNKNOWN_CALL = Sdk(404, Some(900200), ExpectedError, retryable: false) {
        en: "The operation names a call this endpoint is not part of, or one that has already ended."
            => "Act only on calls whose state is not Disconnected; listen for the call's end event before reusing it.",
        fr: "L'opération vise un appel dont ce point de terminaison ne fait pas partie, ou qui est déjà terminé."
            => "N'agissez que sur des appels dont l'état n'est pas Disconnected ; écoutez l'événement de fin d'appel avant de le réutiliser.",
    }

    CALL_OPERATION_INVALID_STATE = Sdk(412, Some(900201), ExpectedError, retryable: true) {
        en: "The operation is not allowed in the call's current state."
            => "Wait for the state the operation needs (for example Connected before hold) by following the call's state events.",
        fr: "L'opération n'est pas permise dans l'état actuel de l'appel."
            => "Attendez l'état requis par l'opération (par exemple Connected avant la mise en attente) en suivant les événements d'état de l'appel.",
    }

    CALL_PARTICIPANT_LIMIT = Sdk(403, Some(900202), ExpectedError, retryable: true) {
        en: "The call already has the maximum number of participants."
            => "Wait until someone leaves, or ask the operator to raise limits.max_participants (350 by default).",
        fr: "L'appel compte déjà le nombre maximal de participants."
            => "Attendez qu'un participant parte, ou demandez à l'exploitant d'augmenter limits.max_participants (350 par défaut).",
    }

    NO_TARGETS = Sdk(400, Some(900203), ExpectedError, retryable: false) {
        en: "A call was started without any target, or with the caller as its only target."
            => "Pass at least one identity other than your own.",
        fr: "Un appel a été lancé sans cible, ou avec l'appelant comme seule cible."
            => "Indiquez au moins une identité autre que la vôtre.",
    }

    SERVER_SHUTTING_DOWN = CallEnd(503, Some(900300), UnexpectedServerError, retryable: true) {
        en: "The call ended because the Appel server was shutting down."
            => "Call again in a moment; a restarted or another server will take it.",
        fr: "L'appel s'est terminé parce que le serveur Appel s'arrêtait."
            => "Rappelez dans un instant ; un serveur redémarré ou un autre serveur le prendra en charge.",
    }

    SERVER_STOPPED_UNEXPECTEDLY = CallEnd(500, Some(900301), UnexpectedServerError, retryable: true) {
        en: "The call was cut off because the Appel server stopped without shutting down (a crash, a kill or a power loss); its end was recorded when the server started again, at the last moment the server was known to be running."
            => "Call again. If it keeps happening, look at the server's logs and at what stopped the process (out of memory, a supervisor's kill).",
        fr: "L'appel a été coupé parce que le serveur Appel s'est arrêté sans se fermer proprement (plantage, arrêt forcé ou coupure de courant) ; sa fin a été enregistrée au redémarrage du serveur, au dernier instant où il était connu en marche."
            => "Rappelez. Si cela se reproduit, consultez les journaux du serveur et ce qui a arrêté le processus (mémoire épuisée, arrêt forcé par un superviseur).",
    }

    CALL_AGENT_DISPOSED = Sdk(400, Some(900400), ExpectedError, retryable: false) {
        en: "The call agent was disposed, so it can no longer place, answer or control calls."
            => "Create a new call agent with the same credential if the application still needs to call.",
        fr: "L'agent d'appel a été libéré ; il ne peut plus passer, prendre ni piloter d'appels."
            => "Créez un nouvel agent d'appel avec le même identifiant de connexion si l'application doit encore appeler.",
    }

    SIGNALING_REQUEST_TIMEOUT = Sdk(408, Some(900401), UnexpectedClientError, retryable: true) {
        en: "The server did not answer a signaling request in time, or the connection dropped before it answered."
            => "Check the network, then retry; the call's events tell whether the operation took effect after all.",
        fr: "Le serveur n'a pas répondu à temps à une requête de signalisation, ou la connexion a été coupée avant sa réponse."
            => "Vérifiez le réseau, puis réessayez ; les événements de l'appel indiquent si l'opération a tout de même abouti.",
    }

    END_FOR_EVERYONE_NOT_ALLOWED = Sdk(403, Some(900500), ExpectedError, retryable: false) {
        en: "Only the organizer of the call, or a participant granted that capability, may end it for everyone."
            => "Hang up for yourself only, or ask the organizer to end the call for everyone.",
        fr: "Seul l'organisateur de l'appel, ou un participant qui en a reçu le droit, peut y mettre fin pour tous."
            => "Raccrochez pour vous seul, ou demandez à l'organisateur de mettre fin à l'appel pour tous.",
    }

    ROOM_END_FOR_EVERYONE_REFUSED = Sdk(403, Some(900501), ExpectedError, retryable: false) {
        en: "A room call cannot be ended for everyone by a participant."
            => "Hang up for yourself only; the application's backend can end the room call through the call-control API.",
        fr: "Un participant ne peut pas mettre fin pour tous à l'appel d'une salle."
            => "Raccrochez pour vous seul ; le serveur de l'application peut terminer l'appel de la salle par l'API de pilotage des appels.",
    }

    ROOM_ROLE_CANNOT_SEND_MEDIA = Sdk(403, Some(900502), ExpectedError, retryable: false) {
        en: "This participant's room role (Consumer) does not allow sending audio or video."
            => "Keep the microphone and camera off, or ask the room's owner to give this participant the Attendee or Presenter role.",
        fr: "Le rôle de ce participant dans la salle (Consumer) ne permet pas d'envoyer de l'audio ni de la vidéo."
            => "Laissez micro et caméra coupés, ou demandez au propriétaire de la salle d'attribuer à ce participant le rôle Attendee ou Presenter.",
    }

    ROOM_ROLE_CANNOT_SCREEN_SHARE = Sdk(403, Some(900503), ExpectedError, retryable: false) {
        en: "This participant's room role (Attendee or Consumer) does not allow sharing the screen."
            => "Ask the room's owner to give this participant the Presenter or Collaborator role before sharing.",
        fr: "Le rôle de ce participant dans la salle (Attendee ou Consumer) ne permet pas de partager l'écran."
            => "Demandez au propriétaire de la salle d'attribuer à ce participant le rôle Presenter ou Collaborator avant de partager.",
    }

    ROOM_ROLE_CANNOT_REMOVE_PARTICIPANTS = Sdk(403, Some(900504), ExpectedError, retryable: false) {
        en: "Only a Presenter may remove participants from a room call."
            => "Ask a Presenter to remove the participant, or have the application's backend change the room roster.",
        fr: "Seul un Presenter peut retirer des participants de l'appel d'une salle."
            => "Demandez à un Presenter de retirer le participant, ou faites modifier la liste de la salle par le serveur de l'application.",
    }

    ROOM_NOT_FOUND = Sdk(404, Some(900505), ExpectedError, retryable: false) {
        en: "No room with that id exists on this server."
            => "Check the room id; the room may have been deleted. Create it again through the rooms API if needed.",
        fr: "Aucune salle portant cet identifiant n'existe sur ce serveur."
            => "Vérifiez l'identifiant de la salle ; elle a peut-être été supprimée. Recréez-la par l'API des salles si besoin.",
    }

    PARTICIPANT_NOT_FOUND = Sdk(404, Some(900506), ExpectedError, retryable: false) {
        en: "The call has no participant with that id, or it has already left."
            => "List the call's participants again and use a current participant id.",
        fr: "L'appel n'a aucun participant portant cet identifiant, ou il est déjà parti."
            => "Listez à nouveau les participants de l'appel et utilisez un identifiant actuel.",
    }

    WEBHOOK_SUBSCRIPTION_NOT_FOUND = Sdk(404, Some(900507), ExpectedError, retryable: false) {
        en: "No webhook subscription with that id exists on this server."
            => "List the subscriptions with GET /webhooks and use a current id; subscribe again if it was deleted.",
        fr: "Aucun abonnement webhook portant cet identifiant n'existe sur ce serveur."
            => "Listez les abonnements avec GET /webhooks et utilisez un identifiant actuel ; abonnez-vous de nouveau s'il a été supprimé.",
    }

    MICROPHONE_PERMISSION_NOT_GRANTED = Sdk(403, Some(900640), ExpectedError, retryable: false) {
        en: "The microphone could not be used: access to it was refused."
            => "Ask the user to allow the microphone for this site in the browser's settings, then start or accept the call again. The call goes on without sound from this side until then.",
        fr: "Le micro n'a pas pu être utilisé : son accès a été refusé."
            => "Demandez à l'utilisateur d'autoriser le micro pour ce site dans les réglages du navigateur, puis relancez ou acceptez l'appel. L'appel continue sans son de ce côté en attendant.",
    }

    NO_MICROPHONE_FOUND = Sdk(412, Some(900641), ExpectedError, retryable: false) {
        en: "No microphone was found on this device."
            => "Connect a microphone (or enable it in the system settings) and start the call again; until then the call carries no sound from this side.",
        fr: "Aucun micro n'a été trouvé sur cet appareil."
            => "Branchez un micro (ou activez-le dans les paramètres du système) puis relancez l'appel ; d'ici là, l'appel ne transmet aucun son de ce côté.",
    }

    MICROPHONE_UNAVAILABLE = Sdk(412, Some(900642), ExpectedError, retryable: true) {
        en: "The microphone exists but could not be started; another application may be holding it."
            => "Close the other applications that use the microphone, check it in the system settings, and start or accept the call again.",
        fr: "Le micro existe mais n'a pas pu être démarré ; une autre application l'occupe peut-être."
            => "Fermez les autres applications qui utilisent le micro, vérifiez-le dans les paramètres du système, puis relancez ou acceptez l'appel.",
    }

    FEDERATION_ISSUER_NOT_FOUND = Sdk(404, Some(900660), ExpectedError, retryable: false) {
        en: "No trusted identity provider with that id exists on this server."
            => "List the trusted providers with GET /federation/issuers and use a current id; add the provider again if it was removed.",
        fr: "Aucun fournisseur d'identité de confiance portant cet identifiant n'existe sur ce serveur."
            => "Listez les fournisseurs de confiance avec GET /federation/issuers et utilisez un identifiant actuel ; ajoutez de nouveau le fournisseur s'il a été retiré.",
    }

    FEDERATION_ISSUER_ALREADY_TRUSTED = Sdk(409, Some(900661), ExpectedError, retryable: false) {
        en: "This identity provider is already trusted by this server."
            => "Keep the existing entry, or delete it first (DELETE /federation/issuers/{id}) and add it again with the new settings.",
        fr: "Ce fournisseur d'identité est déjà reconnu par ce serveur."
            => "Gardez l'entrée existante, ou supprimez-la d'abord (DELETE /federation/issuers/{id}) puis ajoutez-la de nouveau avec les nouveaux réglages.",
    }

    FEDERATION_ISSUER_FROM_CONFIG = Sdk(409, Some(900662), ExpectedError, retryable: false) {
        en: "This identity provider comes from the server's configuration and cannot be removed through the API."
            => "Remove it from federation.issuers in the configuration (or the APPEL_FEDERATION_ISSUERS variable) and restart the server.",
        fr: "Ce fournisseur d'identité vient de la configuration du serveur et ne peut pas être retiré par l'API."
            => "Retirez-le de federation.issuers dans la configuration (ou de la variable APPEL_FEDERATION_ISSUERS) puis redémarrez le serveur.",
    }

    MEDIA_SERVER_DISABLED = Sdk(503, Some(900700), UnexpectedServerError, retryable: false) {
        en: "This server runs without its media server, so group calls and rooms cannot carry audio or video through it."
            => "Ask the operator to enable the media server (media.enabled) or point the deployment at one.",
        fr: "Ce serveur fonctionne sans son serveur média ; les appels de groupe et les salles ne peuvent pas y faire passer l'audio ni la vidéo."
            => "Demandez à l'exploitant d'activer le serveur média (media.enabled) ou de raccorder le déploiement à l'un d'eux.",
    }

    MEDIA_SERVER_NOT_FOR_THIS_CALL = Sdk(409, Some(900701), ExpectedError, retryable: false) {
        en: "A one-to-one call connects its two parties directly, not through the media server."
            => "Send the SDP to the other party with signal frames; use mediaOffer only in group calls and rooms.",
        fr: "Un appel à deux relie ses deux participants directement, sans passer par le serveur média."
            => "Envoyez le SDP à l'autre participant avec des trames signal ; n'utilisez mediaOffer que dans les appels de groupe et les salles.",
    }

    MEDIA_ALREADY_CONNECTED = Sdk(409, Some(900702), ExpectedError, retryable: false) {
        en: "This participant already has a connection to the media server in this call."
            => "Keep using the existing peer connection; answer the server's mediaOffer frames to receive new tracks.",
        fr: "Ce participant a déjà une connexion au serveur média dans cet appel."
            => "Continuez d'utiliser la connexion existante ; répondez aux trames mediaOffer du serveur pour recevoir les nouvelles pistes.",
    }

    MEDIA_SDP_REFUSED = Sdk(400, Some(900703), UnexpectedClientError, retryable: false) {
        en: "The media server could not use the SDP it was sent (unreadable, no usable media line, or not the answer it waits for)."
            => "Send the offer or answer the browser or SDK produced, unchanged, and answer only the latest mediaOffer.",
        fr: "Le serveur média n'a pas pu utiliser le SDP reçu (illisible, sans ligne média utilisable, ou pas la réponse attendue)."
            => "Envoyez l'offre ou la réponse produite par le navigateur ou le SDK, sans la modifier, et ne répondez qu'au dernier mediaOffer.",
    }

    CAMERA_ENDED_DURING_CALL = Sdk(410, Some(900710), ExpectedError, retryable: true) {
        en: "The camera stopped during the call (unplugged, taken by the system or another application), so this side no longer sends video; the call goes on."
            => "Reconnect or free the camera, then start the video again; another camera can be chosen meanwhile.",
        fr: "La caméra s'est arrêtée pendant l'appel (débranchée, reprise par le système ou une autre application) : ce côté n'envoie plus de vidéo, mais l'appel continue."
            => "Rebranchez ou libérez la caméra puis relancez la vidéo ; vous pouvez aussi choisir une autre caméra en attendant.",
    }

    MICROPHONE_ENDED_DURING_CALL = Sdk(410, Some(900711), ExpectedError, retryable: true) {
        en: "The microphone stopped during the call (unplugged, taken by the system or another application), so the others no longer hear this side; the call goes on."
            => "Reconnect or free the microphone, then leave and join the call again to be heard.",
        fr: "Le micro s'est arrêté pendant l'appel (débranché, repris par le système ou une autre application) : les autres n'entendent plus ce côté, mais l'appel continue."
            => "Rebranchez ou libérez le micro, puis quittez et rejoignez l'appel pour être de nouveau entendu.",
    }

    MEDIA_RESTART_NOT_CONNECTED = Sdk(409, Some(900712), ExpectedError, retryable: false) {
        en: "A fresh media-server connection was asked for while this participant's current one had not come up yet (or it has none)."
            => "Send mediaRestart only after the connection it replaces reached the media server; without one, send mediaOffer.",
        fr: "Une nouvelle connexion au serveur média a été demandée alors que la connexion actuelle de ce participant n'était pas encore établie (ou qu'il n'en a pas)."
            => "N'envoyez mediaRestart qu'une fois la connexion remplacée établie avec le serveur média ; sans connexion, envoyez mediaOffer.",
    }

    BENCH_TARGET_NOT_LOOPBACK = Sdk(400, Some(900800), ExpectedError, retryable: false) {
        en: "The load tool only runs against a server on a loopback address of this machine."
            => "Start the server on 127.0.0.1 (or another 127.x address) and point --server at it; never load a server you do not own.",
        fr: "L'outil de charge ne s'exécute que contre un serveur sur une adresse de bouclage de cette machine."
            => "Démarrez le serveur sur 127.0.0.1 (ou une autre adresse 127.x) et indiquez-la dans --server ; ne chargez jamais un serveur qui ne vous appartient pas.",
    }

    INVALID_ARGUMENT = Sdk(400, Some(900900), ExpectedError, retryable: false) {
        en: "An argument is not valid."
            => "Read the message's detail, which names the argument and the form it must take, and correct it.",
        fr: "Un argument n'est pas valide."
            => "Lisez le détail du message, qui nomme l'argument et la forme attendue, puis corrigez-le.",
    }
}
