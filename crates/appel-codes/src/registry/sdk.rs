//! Errors returned by failing SDK operations (subcodes 40101–43220), sorted by subcode.

entries! {
    SDK;

    CALL_AGENT_REGISTRATION_TIMEOUT = Sdk(408, Some(40101), UnexpectedClientError, retryable: true) {
        en: "The CallAgent could not be created because the server did not answer its registration in time." => "Try creating the CallAgent again after a short delay. If registration keeps timing out, save the SDK logs (and, in a browser, the console output and a network capture) and send them to whoever runs your Appel server.",
        fr: "Le CallAgent n'a pas pu être créé : le serveur n'a pas répondu à temps à son enregistrement." => "Relancez la création du CallAgent après quelques instants. Si l'enregistrement expire encore, conservez les journaux du SDK (et, dans un navigateur, la sortie de la console et une capture réseau) et transmettez-les à l'exploitant de votre serveur Appel.",
    }

    CALL_AGENT_CREATION_STEP_TIMEOUT = Sdk(408, Some(40104), UnexpectedClientError, retryable: true) {
        en: "Creating the CallAgent timed out during a later setup step, such as loading the initial state or registering for push notifications." => "Call create_call_agent again. If it keeps failing, look in the SDK logs for the step that was left waiting and pass those logs to the administrator of your Appel server.",
        fr: "La création du CallAgent a expiré lors d'une étape ultérieure, par exemple le chargement de l'état initial ou l'inscription aux notifications push." => "Rappelez create_call_agent. Si l'échec se répète, repérez dans les journaux du SDK l'étape restée en attente et communiquez ces journaux à l'administrateur de votre serveur Appel.",
    }

    SIGNALING_UNREACHABLE = Sdk(408, Some(40114), UnexpectedClientError, retryable: true) {
        en: "The SDK could not reach the Appel signaling endpoint: the connection was refused, the name could not be resolved or the attempt timed out." => "Check the server address configured in the application, the device's network connection and any firewall or proxy that might block WebSocket traffic, then retry. If the server is reachable from elsewhere but not from this client, send the SDK logs to your Appel server operator.",
        fr: "Le SDK n'a pas pu joindre le point d'accès de signalisation d'Appel : connexion refusée, nom introuvable ou délai dépassé." => "Vérifiez l'adresse du serveur configurée dans l'application, la connexion réseau de l'appareil et tout pare-feu ou proxy susceptible de bloquer le trafic WebSocket, puis réessayez. Si le serveur répond ailleurs mais pas depuis ce client, envoyez les journaux du SDK à l'exploitant de votre serveur Appel.",
    }

    SIGNALING_HANDSHAKE_FAILED = Sdk(412, Some(40115), UnexpectedClientError, retryable: true) {
        en: "The SDK reached the signaling endpoint, but the initial handshake was refused or malformed, so the CallAgent was not created." => "Make sure the SDK version is compatible with the server and that the access token is valid, then try again. In a browser, the server's pre-connection check tells why a connection would be refused; if the cause stays unclear, report it with the SDK logs to the operator of your Appel server.",
        fr: "Le SDK a bien joint le point d'accès de signalisation, mais la poignée de main initiale a été refusée ou était mal formée ; le CallAgent n'a pas été créé." => "Assurez-vous que la version du SDK est compatible avec le serveur et que le jeton d'accès est valide, puis réessayez. Dans un navigateur, la vérification préalable proposée par le serveur indique pourquoi une connexion serait refusée ; si la cause reste obscure, signalez-la à l'exploitant de votre serveur Appel avec les journaux du SDK.",
    }

    CALL_AGENT_INTERNAL_FAILURE = Sdk(500, Some(40216), UnexpectedClientError, retryable: true) {
        en: "The CallAgent could not be created because of an unexpected internal error in the SDK." => "Try again. If the error comes back, keep the SDK logs (plus the browser console output when running on the web) and report the failure to the people who run your Appel server.",
        fr: "Le CallAgent n'a pas pu être créé à cause d'une erreur interne inattendue du SDK." => "Réessayez. Si l'erreur revient, gardez les journaux du SDK (ainsi que la sortie de la console du navigateur sur le web) et signalez la panne aux responsables de votre serveur Appel.",
    }

    CALL_AGENT_ALREADY_EXISTS = Sdk(409, Some(40228), ExpectedError, retryable: false) {
        en: "This client already has a CallAgent for this identity, so a second one cannot be created." => "Reuse the existing CallAgent, or call dispose on it and wait for that to finish before creating a new one. To sign in as someone else, create the agent with a token for a different identity.",
        fr: "Ce client possède déjà un CallAgent pour cette identité ; impossible d'en créer un second." => "Réutilisez le CallAgent existant, ou appelez dispose sur celui-ci et attendez la fin de l'opération avant d'en créer un nouveau. Pour utiliser un autre compte, créez l'agent avec le jeton d'une autre identité.",
    }

    FEDERATED_CALL_AGENT_ALREADY_EXISTS = Sdk(409, Some(40230), ExpectedError, retryable: false) {
        en: "This client already has a FederatedCallAgent for this federated identity, so a second one cannot be created." => "Keep using the existing FederatedCallAgent, or dispose of it and wait for the disposal to complete before creating another one for the same identity.",
        fr: "Ce client possède déjà un FederatedCallAgent pour cette identité fédérée ; impossible d'en créer un second." => "Continuez d'utiliser le FederatedCallAgent existant, ou libérez-le avec dispose et attendez la fin de l'opération avant d'en créer un autre pour la même identité.",
    }

    SPEAKER_SELECTION_UNSUPPORTED = Sdk(405, Some(40606), ExpectedError, retryable: false) {
        en: "Audio output devices cannot be listed or selected on this platform." => "Do not rely on the DeviceManager's speakers or select_speaker on this platform: the operating system chooses the output device itself. Hide the speaker picker in your interface when this error is returned.",
        fr: "Cette plateforme ne permet ni d'énumérer ni de choisir les périphériques de sortie audio." => "Ne comptez pas sur speakers ni sur select_speaker du DeviceManager sur cette plateforme : le système d'exploitation choisit lui-même la sortie audio. Masquez le sélecteur de haut-parleurs de votre interface lorsque cette erreur survient.",
    }

    DEVICE_PERMISSION_DENIED = Sdk(400, Some(40613), ExpectedError, retryable: false) {
        en: "Access to the camera and/or microphone was refused by the user or by the operating system." => "Explain to the user why the devices are needed and ask them to allow access in the browser's site settings and in the operating system's privacy settings, then call ask_device_permission again.",
        fr: "L'accès à la caméra et/ou au micro a été refusé par l'utilisateur ou par le système d'exploitation." => "Expliquez à l'utilisateur pourquoi ces appareils sont nécessaires et invitez-le à autoriser l'accès dans les réglages du site du navigateur et dans les paramètres de confidentialité du système, puis rappelez ask_device_permission.",
    }

    DEVICE_PERMISSION_REQUEST_FAILED = Sdk(500, Some(40614), UnexpectedClientError, retryable: true) {
        en: "The request for camera or microphone permission failed unexpectedly." => "Check that device access is not blocked in the browser or system settings and call ask_device_permission again. If it still fails, capture the SDK logs and the browser console output and pass them to your Appel server operator.",
        fr: "La demande d'autorisation d'accès à la caméra ou au micro a échoué de façon inattendue." => "Vérifiez que l'accès aux appareils n'est pas bloqué dans les réglages du navigateur ou du système, puis rappelez ask_device_permission. Si l'échec persiste, récupérez les journaux du SDK et la console du navigateur et faites-les parvenir à l'exploitant de votre serveur Appel.",
    }

    ACCEPT_NOT_RINGING = Sdk(400, Some(41006), ExpectedError, retryable: false) {
        en: "The incoming call could not be accepted because it is no longer ringing." => "The caller may have hung up, another of the user's devices may have answered, or the ringing timeout may have expired. Handle the agent's incoming-call event, watch each IncomingCall for its end, and remove the answer button as soon as it has ended.",
        fr: "L'appel entrant n'a pas pu être accepté car il ne sonne plus." => "L'appelant a peut-être raccroché, un autre appareil de l'utilisateur a pu répondre, ou le délai de sonnerie a expiré. Traitez l'événement d'appel entrant de l'agent, surveillez la fin de chaque IncomingCall et retirez le bouton de réponse dès qu'il est terminé.",
    }

    REJECT_NOT_RINGING = Sdk(400, Some(41007), ExpectedError, retryable: false) {
        en: "The incoming call could not be rejected because it is no longer ringing." => "There is nothing left to decline: the call was already cancelled, answered on another device or timed out. Only call reject on an IncomingCall received through the agent's incoming-call event that is still ringing, and dismiss the notification when it ends.",
        fr: "L'appel entrant n'a pas pu être refusé car il ne sonne plus." => "Il n'y a plus rien à refuser : l'appel a déjà été annulé, pris sur un autre appareil ou a expiré. N'appelez reject que sur un IncomingCall reçu par l'événement d'appel entrant de l'agent et qui sonne encore, et fermez la notification dès qu'il se termine.",
    }

    MUTE_FAILED = Sdk(500, Some(41015), UnexpectedClientError, retryable: true) {
        en: "The microphone could not be muted because the SDK failed to change the local audio track." => "Call mute again. If the microphone still cannot be muted, gather the SDK logs (and the browser console when on the web) and report it to the operator of your Appel server.",
        fr: "Le micro n'a pas pu être coupé : le SDK n'a pas réussi à modifier la piste audio locale." => "Rappelez mute. Si le micro ne peut toujours pas être coupé, réunissez les journaux du SDK (et la console du navigateur sur le web) et signalez le problème à l'exploitant de votre serveur Appel.",
    }

    UNMUTE_FAILED = Sdk(400, Some(41016), UnexpectedClientError, retryable: true) {
        en: "The microphone could not be unmuted because the SDK failed to change the local audio track." => "Make sure the microphone is still connected and not taken by another application, then call unmute again. If it keeps failing, send the SDK logs to the team running your Appel server.",
        fr: "Le micro n'a pas pu être réactivé : le SDK n'a pas réussi à modifier la piste audio locale." => "Vérifiez que le micro est toujours branché et qu'aucune autre application ne l'accapare, puis rappelez unmute. Si l'échec se répète, envoyez les journaux du SDK à l'équipe qui gère votre serveur Appel.",
    }

    START_VIDEO_INVALID_STREAM = Sdk(400, Some(41025), ExpectedError, retryable: false) {
        en: "Video could not be started because the stream passed to start_video is missing or invalid." => "Pass a LocalVideoStream built from a VideoDeviceInfo taken from the DeviceManager's cameras (or from a custom media stream), and make sure it is not empty.",
        fr: "La vidéo n'a pas pu démarrer car le flux transmis à start_video est absent ou invalide." => "Transmettez un LocalVideoStream construit à partir d'un VideoDeviceInfo issu de la liste cameras du DeviceManager (ou d'un flux multimédia personnalisé), et vérifiez qu'il n'est pas vide.",
    }

    VIDEO_ALREADY_STARTED = Sdk(400, Some(41027), ExpectedError, retryable: false) {
        en: "Video could not be started because it is already being sent in this call." => "Check whether the Call is already sending a local video stream before calling start_video. To change camera, switch the source of the existing LocalVideoStream instead of starting video again.",
        fr: "La vidéo n'a pas pu démarrer car elle est déjà envoyée dans cet appel." => "Vérifiez si le Call envoie déjà un flux vidéo local avant d'appeler start_video. Pour changer de caméra, modifiez la source du LocalVideoStream existant au lieu de relancer la vidéo.",
    }

    VIDEO_ALREADY_STOPPED = Sdk(400, Some(41030), ExpectedError, retryable: false) {
        en: "Video could not be stopped because it has already been stopped." => "Track the local video state (or look at the Call's local video streams) and only call stop_video while video is being sent. If the goal was simply to turn video off, this error can be ignored.",
        fr: "La vidéo n'a pas pu être arrêtée car elle l'est déjà." => "Suivez l'état de la vidéo locale (ou consultez les flux vidéo locaux du Call) et n'appelez stop_video que pendant l'envoi de la vidéo. Si le but était seulement de couper la vidéo, cette erreur peut être ignorée.",
    }

    STOP_VIDEO_STREAM_NOT_SENT = Sdk(400, Some(41032), ExpectedError, retryable: false) {
        en: "Video could not be stopped because the LocalVideoStream given to stop_video is not being sent in this call." => "Pass one of the streams listed in the Call's local video streams, that is the LocalVideoStream that was given to start_video, rather than some other object.",
        fr: "La vidéo n'a pas pu être arrêtée car le LocalVideoStream passé à stop_video n'est pas envoyé dans cet appel." => "Transmettez l'un des flux figurant parmi les flux vidéo locaux du Call, c'est-à-dire le LocalVideoStream donné à start_video, plutôt qu'un autre objet.",
    }

    HOLD_FAILED = Sdk(500, Some(41033), UnexpectedClientError, retryable: true) {
        en: "The call could not be put on hold because the server did not confirm the request." => "Check the network connection and call hold again. If the server keeps failing to confirm, collect the SDK logs and report the issue to your Appel server operator.",
        fr: "L'appel n'a pas pu être mis en attente car le serveur n'a pas confirmé la demande." => "Vérifiez la connexion réseau et rappelez hold. Si le serveur ne confirme toujours pas, rassemblez les journaux du SDK et signalez l'incident à l'exploitant de votre serveur Appel.",
    }

    RESUME_FAILED = Sdk(500, Some(41034), UnexpectedClientError, retryable: true) {
        en: "The call could not be taken off hold because the server did not confirm the request." => "Retry resume once the connection is stable; the call stays on hold in the meantime. If resuming fails repeatedly, send the SDK logs (and the browser console output, if any) to the administrator of your Appel server.",
        fr: "L'appel n'a pas pu être repris car le serveur n'a pas confirmé la demande." => "Relancez resume une fois la connexion stable ; l'appel reste en attente entre-temps. Si la reprise échoue à plusieurs reprises, envoyez les journaux du SDK (et la console du navigateur le cas échéant) à l'administrateur de votre serveur Appel.",
    }

    SCREEN_SHARE_ALREADY_STARTED = Sdk(400, Some(41035), ExpectedError, retryable: false) {
        en: "Screen sharing could not be started because it is already active in this call." => "Check the Call's screen-sharing state before calling start_screen_share. To share a different screen or window, stop the current share first.",
        fr: "Le partage d'écran n'a pas pu démarrer car il est déjà actif dans cet appel." => "Vérifiez l'état du partage d'écran du Call avant d'appeler start_screen_share. Pour partager un autre écran ou une autre fenêtre, arrêtez d'abord le partage en cours.",
    }

    SCREEN_SHARE_ALREADY_STOPPED = Sdk(400, Some(41041), ExpectedError, retryable: false) {
        en: "Screen sharing could not be stopped because it is not active." => "Only call stop_screen_share while a share is running; the user may already have ended it from the browser or system controls. Update your interface from the Call's screen-sharing state.",
        fr: "Le partage d'écran n'a pas pu être arrêté car il n'est pas actif." => "N'appelez stop_screen_share que lorsqu'un partage est en cours ; l'utilisateur l'a peut-être déjà terminé depuis les commandes du navigateur ou du système. Mettez votre interface à jour d'après l'état du partage d'écran du Call.",
    }

    VIDEO_FAILED_DURING_SETUP = Sdk(410, Some(41048), UnexpectedClientError, retryable: true) {
        en: "The camera failed while the call was being set up, so the call continues without outgoing video." => "Check that camera access is allowed in the browser and system settings and that no other application is using the camera, then try start_video once the call is connected. If the camera fails again for no obvious reason, report it with the SDK logs to your Appel server operator.",
        fr: "La caméra a échoué pendant l'établissement de l'appel ; l'appel se poursuit sans vidéo sortante." => "Vérifiez que l'accès à la caméra est autorisé dans les réglages du navigateur et du système et qu'aucune autre application ne l'utilise, puis essayez start_video une fois l'appel connecté. Si la caméra échoue encore sans raison apparente, signalez-le avec les journaux du SDK à l'exploitant de votre serveur Appel.",
    }

    FEDERATED_CALLING_DISABLED = Sdk(412, Some(41056), ExpectedError, retryable: false) {
        en: "The call could not be started or joined because this Appel server has not enabled calling for federated identities." => "Ask the administrator of the Appel server to enable calling for federated identities in its configuration, or sign in with a regular Appel identity instead.",
        fr: "L'appel n'a pas pu être lancé ni rejoint car ce serveur Appel n'a pas activé les appels pour les identités fédérées." => "Demandez à l'administrateur du serveur Appel d'activer les appels pour les identités fédérées dans sa configuration, ou connectez-vous plutôt avec une identité Appel ordinaire.",
    }

    SCREEN_SHARE_CALL_NOT_CONNECTED = Sdk(412, Some(41071), ExpectedError, retryable: true) {
        en: "Screen sharing could not be started because the call is not in the Connected state." => "Follow the Call's state changes and only offer screen sharing once the state is Connected; if the call is still connecting, try again after it connects.",
        fr: "Le partage d'écran n'a pas pu démarrer car l'appel n'est pas dans l'état Connected." => "Suivez les changements d'état du Call et ne proposez le partage d'écran qu'une fois l'état Connected atteint ; si l'appel est encore en cours de connexion, réessayez une fois qu'il est connecté.",
    }

    CUSTOM_MEDIA_STREAM_DISABLED = Sdk(412, Some(41073), ExpectedError, retryable: false) {
        en: "A custom media stream cannot be used because this Appel server has disabled the feature." => "Use a LocalVideoStream built from a camera's VideoDeviceInfo instead, or ask the server administrator whether custom media streams can be enabled.",
        fr: "Impossible d'utiliser un flux multimédia personnalisé : ce serveur Appel a désactivé cette fonctionnalité." => "Utilisez plutôt un LocalVideoStream construit à partir du VideoDeviceInfo d'une caméra, ou demandez à l'administrateur du serveur si les flux personnalisés peuvent être activés.",
    }

    CAMERA_IN_USE = Sdk(412, Some(43000), ExpectedError, retryable: true) {
        en: "Video could not be started because the camera is being used by another application or process." => "Ask the user to close the other application that holds the camera (or to pick a different camera), then call start_video again.",
        fr: "La vidéo n'a pas pu démarrer car la caméra est utilisée par une autre application ou un autre processus." => "Invitez l'utilisateur à fermer l'application qui occupe la caméra (ou à choisir une autre caméra), puis rappelez start_video.",
    }

    CAMERA_PERMISSION_NOT_GRANTED = Sdk(403, Some(43001), ExpectedError, retryable: false) {
        en: "Video could not be started because permission to use the selected camera has not been granted." => "Request access with ask_device_permission before starting video; if the user already refused, guide them to allow the camera in the browser's site settings and in the system privacy settings. On macOS, screen sharing also needs the screen recording permission in the system settings.",
        fr: "La vidéo n'a pas pu démarrer car l'autorisation d'utiliser la caméra sélectionnée n'a pas été accordée." => "Demandez l'accès avec ask_device_permission avant de lancer la vidéo ; si l'utilisateur a déjà refusé, guidez-le pour autoriser la caméra dans les réglages du site du navigateur et dans les paramètres de confidentialité du système. Sous macOS, le partage d'écran exige en plus l'autorisation d'enregistrement de l'écran dans les réglages système.",
    }

    START_VIDEO_UNKNOWN_FAILURE = Sdk(500, Some(43002), UnexpectedClientError, retryable: true) {
        en: "Video could not be started because of an unknown error." => "Call start_video again, possibly with another camera. If the failure persists, keep the SDK logs and the browser console output and report it to the operator of your Appel server.",
        fr: "La vidéo n'a pas pu démarrer en raison d'une erreur inconnue." => "Rappelez start_video, éventuellement avec une autre caméra. Si l'échec persiste, conservez les journaux du SDK et la console du navigateur et signalez-le à l'exploitant de votre serveur Appel.",
    }

    SWITCH_CAMERA_INVALID_INPUT = Sdk(400, Some(43004), ExpectedError, retryable: false) {
        en: "The camera could not be switched because the value given is not a valid VideoDeviceInfo." => "Get the list of cameras from the DeviceManager and pass one of the VideoDeviceInfo values it returns when switching the source of the LocalVideoStream.",
        fr: "La caméra n'a pas pu être changée car la valeur fournie n'est pas un VideoDeviceInfo valide." => "Récupérez la liste des caméras auprès du DeviceManager et passez l'un des VideoDeviceInfo qu'il renvoie pour changer la source du LocalVideoStream.",
    }

    SWITCH_CAMERA_SAME_DEVICE = Sdk(400, Some(43005), ExpectedError, retryable: false) {
        en: "The camera could not be switched because the requested camera is already the one in use." => "Compare the requested VideoDeviceInfo with the current source of the LocalVideoStream before switching, and skip the switch when they are the same.",
        fr: "La caméra n'a pas pu être changée car la caméra demandée est déjà celle utilisée." => "Comparez le VideoDeviceInfo demandé à la source actuelle du LocalVideoStream avant de changer, et n'effectuez pas le changement s'ils sont identiques.",
    }

    NO_CAMERA_FOUND = Sdk(412, Some(43013), ExpectedError, retryable: false) {
        en: "Video could not be started because no camera was found on this device." => "Make sure a camera is connected, enabled in the system settings and has a working driver. Check the DeviceManager's cameras list before offering video, and let the user continue with audio only when it is empty.",
        fr: "La vidéo n'a pas pu démarrer car aucune caméra n'a été détectée sur cet appareil." => "Vérifiez qu'une caméra est branchée, activée dans les paramètres du système et dotée d'un pilote fonctionnel. Consultez la liste cameras du DeviceManager avant de proposer la vidéo, et laissez l'utilisateur continuer en audio seul si elle est vide.",
    }

    MEDIA_REQUEST_FAILED = Sdk(412, Some(43014), UnexpectedClientError, retryable: true) {
        en: "Video could not be started because the request for the camera stream failed or was aborted." => "Try start_video again. If the camera stream still cannot be obtained, collect the SDK logs (and the browser console) and report the problem to your Appel server operator.",
        fr: "La vidéo n'a pas pu démarrer car la demande du flux de la caméra a échoué ou a été interrompue." => "Relancez start_video. Si le flux de la caméra reste inaccessible, rassemblez les journaux du SDK (et la console du navigateur) et signalez le problème à l'exploitant de votre serveur Appel.",
    }

    MEDIA_REQUEST_TIMED_OUT = Sdk(412, Some(43015), ExpectedError, retryable: true) {
        en: "Video could not be started because the camera permission prompt was not answered in time." => "Tell the user to respond to the browser or system prompt asking for camera access, then call start_video again. A visible hint pointing at the prompt helps users who would otherwise miss it.",
        fr: "La vidéo n'a pas pu démarrer car l'invite d'autorisation de la caméra n'a pas reçu de réponse à temps." => "Indiquez à l'utilisateur de répondre à l'invite du navigateur ou du système demandant l'accès à la caméra, puis rappelez start_video. Un message bien visible désignant l'invite aide les utilisateurs qui ne la remarqueraient pas.",
    }

    CAMERA_DENIED_BY_SYSTEM = Sdk(412, Some(43016), ExpectedError, retryable: false) {
        en: "Video could not be started because the operating system denied access to the camera." => "Have the user allow camera access for the browser or application in the system privacy settings and check that the camera is not disabled there; on macOS, screen sharing also requires the screen recording permission. Then try again.",
        fr: "La vidéo n'a pas pu démarrer car le système d'exploitation a refusé l'accès à la caméra." => "Faites autoriser l'accès à la caméra pour le navigateur ou l'application dans les paramètres de confidentialité du système, et vérifiez que la caméra n'y est pas désactivée ; sous macOS, le partage d'écran nécessite aussi l'autorisation d'enregistrement de l'écran. Réessayez ensuite.",
    }

    UNSUPPORTED_VIDEO_STREAM = Sdk(412, Some(43017), UnexpectedClientError, retryable: true) {
        en: "Video could not be started because the stream is not supported." => "Try again, or choose another camera or stream source. If it keeps failing, report it to the operator of your Appel server with the SDK logs attached.",
        fr: "La vidéo n'a pas pu démarrer car le flux n'est pas pris en charge." => "Réessayez, ou choisissez une autre caméra ou une autre source de flux. Si l'échec continue, signalez-le à l'exploitant de votre serveur Appel en joignant les journaux du SDK.",
    }

    VIDEO_CONSTRAINTS_FAILED = Sdk(412, Some(43018), UnexpectedClientError, retryable: true) {
        en: "Video could not be started because the requested video constraints, such as resolution or frame rate, could not be applied to the camera." => "Retry with looser or default constraints, or with another camera. If even the default settings fail, gather the SDK logs and the browser console output and send them to your Appel server operator.",
        fr: "La vidéo n'a pas pu démarrer car les contraintes vidéo demandées, comme la résolution ou la fréquence d'images, n'ont pas pu être appliquées à la caméra." => "Réessayez avec des contraintes moins strictes ou par défaut, ou avec une autre caméra. Si même les réglages par défaut échouent, rassemblez les journaux du SDK et la console du navigateur et transmettez-les à l'exploitant de votre serveur Appel.",
    }

    NO_VIDEO_DEVICE_SELECTED = Sdk(412, Some(43019), UnexpectedClientError, retryable: false) {
        en: "Video could not be started because no camera was selected for the stream." => "Pass a LocalVideoStream created from a VideoDeviceInfo obtained from the DeviceManager, then try again. If this happens with a properly built stream, report it along with the SDK logs to the operator of your Appel server.",
        fr: "La vidéo n'a pas pu démarrer car aucune caméra n'a été sélectionnée pour le flux." => "Transmettez un LocalVideoStream créé à partir d'un VideoDeviceInfo obtenu auprès du DeviceManager, puis réessayez. Si l'erreur survient avec un flux correctement construit, signalez-la avec les journaux du SDK à l'exploitant de votre serveur Appel.",
    }

    REMOTE_STREAM_NOT_AVAILABLE = Sdk(412, Some(43200), ExpectedError, retryable: true) {
        en: "The remote video could not be rendered because the stream is not available." => "Watch the is_available property of the RemoteVideoStream and only call create_view once it becomes true, which means the remote participant is sending video.",
        fr: "La vidéo distante n'a pas pu être affichée car le flux n'est pas disponible." => "Surveillez la propriété is_available du RemoteVideoStream et n'appelez create_view que lorsqu'elle devient vraie, c'est-à-dire quand le participant distant envoie sa vidéo.",
    }

    REMOTE_STREAM_NO_LONGER_AVAILABLE = Sdk(404, Some(43202), ExpectedError, retryable: true) {
        en: "The remote video could not be rendered because the stream became unavailable while the view was being created, usually because the participant turned their video off." => "Drop the pending view and wait for is_available on the RemoteVideoStream to become true again before calling create_view once more.",
        fr: "La vidéo distante n'a pas pu être affichée car le flux est devenu indisponible pendant la création de la vue, généralement parce que le participant a coupé sa vidéo." => "Abandonnez la vue en attente et patientez jusqu'à ce que is_available du RemoteVideoStream redevienne vrai avant de rappeler create_view.",
    }

    VIEW_FRAMES_TIMEOUT = Sdk(408, Some(43203), UnexpectedClientError, retryable: true) {
        en: "The remote video could not be rendered because no video frames arrived in time." => "Dispose of the view and call create_view again. If frames still never arrive, check the network quality and report the problem, with the SDK logs, to whoever operates your Appel server.",
        fr: "La vidéo distante n'a pas pu être affichée car aucune image n'est arrivée à temps." => "Libérez la vue et rappelez create_view. Si aucune image n'arrive toujours, vérifiez la qualité du réseau et signalez le problème, journaux du SDK à l'appui, à l'exploitant de votre serveur Appel.",
    }

    VIDEO_SUBSCRIPTION_FAILED = Sdk(500, Some(43204), UnexpectedClientError, retryable: true) {
        en: "The remote video could not be rendered because the server failed to subscribe this client to the stream." => "Call create_view again after a moment. If subscribing keeps failing, save the SDK logs and the browser console output and hand them to the administrator of your Appel server.",
        fr: "La vidéo distante n'a pas pu être affichée car le serveur n'a pas réussi à abonner ce client au flux." => "Rappelez create_view après quelques instants. Si l'abonnement échoue encore, enregistrez les journaux du SDK et la console du navigateur et remettez-les à l'administrateur de votre serveur Appel.",
    }

    RENDERER_DISPOSED_DURING_CREATE = Sdk(405, Some(43209), ExpectedError, retryable: false) {
        en: "The view could not be created because its VideoStreamRenderer was disposed before creation finished." => "Wait for create_view to complete before disposing of the renderer, or ignore this error when the disposal was intentional, for example because the user left the screen.",
        fr: "La vue n'a pas pu être créée car son VideoStreamRenderer a été libéré avant la fin de la création." => "Attendez la fin de create_view avant de libérer le moteur de rendu, ou ignorez cette erreur si la libération était voulue, par exemple parce que l'utilisateur a quitté l'écran.",
    }

    RENDERER_ALREADY_DISPOSED = Sdk(400, Some(43210), ExpectedError, retryable: false) {
        en: "The VideoStreamRenderer could not be disposed because it has already been disposed." => "Call dispose only once per renderer: drop your reference to it after disposing, or check whether it was already released before calling dispose again.",
        fr: "Le VideoStreamRenderer n'a pas pu être libéré car il l'a déjà été." => "N'appelez dispose qu'une seule fois par moteur de rendu : abandonnez votre référence après la libération, ou vérifiez qu'il n'a pas déjà été libéré avant de rappeler dispose.",
    }

    MAX_REMOTE_VIEWS_REACHED = Sdk(400, Some(43220), ExpectedError, retryable: false) {
        en: "The view could not be created because this client has reached the maximum number of active remote video views." => "Dispose of a view that is no longer visible before creating a new one. The default limit is 10 views on desktop and 6 on mobile, so render only the participants currently on screen.",
        fr: "La vue n'a pas pu être créée car ce client a atteint le nombre maximal de vues vidéo distantes actives." => "Libérez une vue qui n'est plus visible avant d'en créer une nouvelle. La limite par défaut est de 10 vues sur ordinateur et 6 sur mobile : n'affichez que les participants visibles à l'écran.",
    }
}
