//! Devices (`DeviceManager`, `getUserMedia` and its DOMException mapping) and the renderer of
//! remote video with the per-client view limit.

use std::cell::Cell;
use std::rc::Rc;

use appel_codes::{registry, CallingError};
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaStream, MediaStreamConstraints};

use super::agent::ClientShared;
use super::call::CallInner;
use super::js;
use crate::errors::{device_error, DeviceOperation};

/// How long a media request waits for its permission prompt unless the client says otherwise.
pub(crate) const DEFAULT_MEDIA_TIMEOUT_MS: u32 = 30_000;
/// How long `createView` waits for the first frame unless told otherwise.
const DEFAULT_VIEW_TIMEOUT_MS: f64 = 15_000.0;
/// How often a view being created looks at its element and at the call.
const VIEW_POLL_MS: i32 = 50;

/// `mediaRequestTimeoutMs` of the `CallClient` options (a positive number), or the default.
pub(crate) fn media_timeout_option(options: &JsValue) -> u32 {
    js::member(options, "mediaRequestTimeoutMs")
        .as_f64()
        .filter(|ms| ms.is_finite() && *ms >= 1.0)
        .map(|ms| ms.min(f64::from(u32::MAX)) as u32)
        .unwrap_or(DEFAULT_MEDIA_TIMEOUT_MS)
}

/// The catalogue error for a rejected media promise (a DOMException, by name). An
/// `OverconstrainedError` names the constraint it could not meet, which tells a camera that is
/// gone (`deviceId`) from one that cannot give what was asked.
pub(crate) fn dom_error(value: &JsValue, operation: DeviceOperation) -> CallingError {
    let name = js::member(value, "name").as_string().unwrap_or_default();
    let mut message = js::member(value, "message").as_string().unwrap_or_default();
    if let Some(constraint) = js::member(value, "constraint").as_string() {
        message = format!("{message} (constraint {constraint})");
    }
    device_error(&name, &message, operation)
}

/// Waits `ms` milliseconds.
pub(crate) async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        js::after(ms, move || {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        });
    });
    let _ = JsFuture::from(promise).await;
}

/// `getUserMedia` with `audio` and `video` as constraints (booleans or constraint objects), the
/// failure mapped for `operation`. A prompt left unanswered for `timeout_ms` is a failure too
/// (a `TimeoutError` for the mapping); the stream granted after that is stopped at once.
pub(crate) async fn request_media(
    audio: &JsValue,
    video: &JsValue,
    operation: DeviceOperation,
    timeout_ms: u32,
) -> Result<MediaStream, CallingError> {
    let devices = web_sys::window()
        .and_then(|w| w.navigator().media_devices().ok())
        .filter(|d| !d.is_undefined())
        .ok_or_else(|| device_error("NotFoundError", "no media devices API", operation))?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(audio);
    constraints.set_video(video);
    let promise = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(|e| dom_error(&e, operation))?;
    let timeout = Promise::new(&mut |resolve, _| {
        js::after(timeout_ms.min(i32::MAX as u32) as i32, move || {
            let _ = resolve.call1(&JsValue::UNDEFINED, &JsValue::from_str("timeout"));
        });
    });
    let race = Promise::race(&js_sys::Array::of2(&promise, &timeout));
    let answer = JsFuture::from(race)
        .await
        .map_err(|e| dom_error(&e, operation))?;
    if answer.is_instance_of::<MediaStream>() {
        return Ok(answer.unchecked_into());
    }
    wasm_bindgen_futures::spawn_local(async move {
        if let Ok(late) = JsFuture::from(promise).await {
            stop_all(&late.unchecked_into());
        }
    });
    Err(device_error(
        "TimeoutError",
        &format!("no answer to the media request within {timeout_ms} ms"),
        operation,
    ))
}

/// `getUserMedia` of plain `audio`/`video` with the failure mapped for `operation`.
pub(crate) async fn get_user_media(
    audio: bool,
    video: bool,
    operation: DeviceOperation,
    timeout_ms: u32,
) -> Result<MediaStream, CallingError> {
    request_media(
        &JsValue::from_bool(audio),
        &JsValue::from_bool(video),
        operation,
        timeout_ms,
    )
    .await
}

/// Stops every track of `stream`.
pub(crate) fn stop_all(stream: &MediaStream) {
    for track in stream.get_tracks().iter() {
        track.unchecked_into::<web_sys::MediaStreamTrack>().stop();
    }
}

/// Whether this browser can send a media element's sound to a chosen output.
fn can_select_speakers() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let media_api = js::member(&window.navigator(), "mediaDevices");
    // A class is a function, which `js::member` does not read into.
    let prototype = js_sys::Reflect::get(&window, &JsValue::from_str("HTMLMediaElement"))
        .and_then(|class| js_sys::Reflect::get(&class, &JsValue::from_str("prototype")))
        .unwrap_or(JsValue::UNDEFINED);
    if !prototype.is_object() {
        return false;
    }
    !media_api.is_undefined()
        && js_sys::Reflect::has(&prototype, &JsValue::from_str("setSinkId")).unwrap_or(false)
        && js::member(&window, "isSecureContext").as_bool() != Some(false)
}

/// Cameras, microphones and speakers, and the permission to use them.
#[wasm_bindgen]
pub struct DeviceManager {
    client: Rc<ClientShared>,
}

impl DeviceManager {
    pub(crate) fn new(client: Rc<ClientShared>) -> DeviceManager {
        DeviceManager { client }
    }
}

/// The devices of one kind, as `{id, name, kind}` objects.
async fn devices_of(kind: &'static str) -> Result<js_sys::Array, JsValue> {
    let unsupported = || {
        let entry = if kind == "audiooutput" {
            &registry::SPEAKER_SELECTION_UNSUPPORTED
        } else {
            &registry::DEVICE_PERMISSION_REQUEST_FAILED
        };
        js::error_js(&CallingError::new(entry).with_raw_cause("no media devices API here"))
    };
    let devices = web_sys::window()
        .and_then(|w| w.navigator().media_devices().ok())
        .filter(|d| !d.is_undefined())
        .ok_or_else(unsupported)?;
    let promise = devices
        .enumerate_devices()
        .map_err(|e| js::error_js(&dom_error(&e, DeviceOperation::AskPermission)))?;
    let all = JsFuture::from(promise)
        .await
        .map_err(|e| js::error_js(&dom_error(&e, DeviceOperation::AskPermission)))?;
    let list = js_sys::Array::new();
    for device in js_sys::Array::from(&all).iter() {
        if js::member(&device, "kind").as_string().as_deref() == Some(kind) {
            let info = serde_json::json!({
                "id": js::member(&device, "deviceId").as_string(),
                "name": js::member(&device, "label").as_string(),
                "kind": kind,
            });
            list.push(&js::to_js(&info));
        }
    }
    Ok(list)
}

#[wasm_bindgen(typescript_custom_section)]
const DEVICE_TYPES: &'static str = r#"
/** A device as the browser lists it. `id` is empty until the page may use devices. */
export interface DeviceInfo {
  id: string;
  name: string;
  kind: "videoinput" | "audioinput" | "audiooutput";
}
/** A camera, from `DeviceManager.getCameras()`. */
export type VideoDeviceInfo = DeviceInfo & { kind: "videoinput" };
/** Options of `new CallClient(options)`. */
export interface CallClientOptions {
  /** A mobile browser: at most 6 remote views instead of 10 (default false). */
  mobile?: boolean;
  /** How long a camera or microphone request waits for the permission prompt (default 30000). */
  mediaRequestTimeoutMs?: number;
}
/** Options of `VideoStreamRenderer.createView`. */
export interface CreateViewOptions {
  /** How long to wait for the first frame before failing with 43203 (default 15000). */
  timeoutMs?: number;
}
/** A view of remote video: a `<video>` element that shows frames. */
export interface RemoteView {
  target: HTMLVideoElement;
}
"#;

#[wasm_bindgen]
impl DeviceManager {
    /// Asks for `{audio, video}`; resolves to the same shape with what was granted; rejects
    /// with 40613 when refused and 40614 when the request itself failed.
    #[wasm_bindgen(js_name = askDevicePermission, unchecked_return_type = "Promise<DevicePermissions>")]
    pub fn ask_device_permission(
        &self,
        #[wasm_bindgen(unchecked_param_type = "DevicePermissions")] kinds: JsValue,
    ) -> Promise {
        let audio = js::member(&kinds, "audio").as_bool().unwrap_or(false);
        let video = js::member(&kinds, "video").as_bool().unwrap_or(false);
        let timeout = self.client.media_timeout_ms;
        wasm_bindgen_futures::future_to_promise(async move {
            let stream = get_user_media(audio, video, DeviceOperation::AskPermission, timeout)
                .await
                .map_err(|e| js::error_js(&e))?;
            let granted = serde_json::json!({
                "audio": stream.get_audio_tracks().length() > 0,
                "video": stream.get_video_tracks().length() > 0,
            });
            stop_all(&stream);
            Ok(js::to_js(&granted))
        })
    }

    /// Lists devices of one kind: `videoinput` (cameras), `audioinput`, `audiooutput`.
    #[wasm_bindgen(js_name = listDevices, unchecked_return_type = "Promise<DeviceInfo[]>")]
    pub fn list_devices(&self, kind: String) -> Promise {
        let kind = match kind.as_str() {
            "videoinput" => "videoinput",
            "audioinput" => "audioinput",
            "audiooutput" => "audiooutput",
            _ => {
                return Promise::reject(&js::error_js(
                    &CallingError::new(&registry::INVALID_ARGUMENT)
                        .with_context("kind: videoinput, audioinput or audiooutput"),
                ))
            }
        };
        wasm_bindgen_futures::future_to_promise(
            async move { devices_of(kind).await.map(Into::into) },
        )
    }

    /// The cameras, for `new LocalVideoStream(camera)` and `switchSource(camera)`.
    #[wasm_bindgen(js_name = getCameras, unchecked_return_type = "Promise<VideoDeviceInfo[]>")]
    pub fn get_cameras(&self) -> Promise {
        wasm_bindgen_futures::future_to_promise(async move {
            devices_of("videoinput").await.map(Into::into)
        })
    }

    /// The speakers; 40606 where the browser cannot choose where sound plays (no `setSinkId`,
    /// or no media devices API, as on a page that is not a secure context).
    #[wasm_bindgen(js_name = getSpeakers, unchecked_return_type = "Promise<DeviceInfo[]>")]
    pub fn get_speakers(&self) -> Promise {
        if !can_select_speakers() {
            return Promise::reject(&js::error_js(
                &CallingError::new(&registry::SPEAKER_SELECTION_UNSUPPORTED)
                    .with_raw_cause("no setSinkId or no media devices API in this page"),
            ));
        }
        wasm_bindgen_futures::future_to_promise(async move {
            devices_of("audiooutput").await.map(Into::into)
        })
    }

    /// Plays a media element's sound on the speaker `deviceId`; 40606 where the browser cannot
    /// select audio outputs (`setSinkId` missing, or refused here).
    #[wasm_bindgen(js_name = selectSpeaker, unchecked_return_type = "Promise<void>")]
    pub fn select_speaker(
        &self,
        #[wasm_bindgen(unchecked_param_type = "HTMLMediaElement")] element: JsValue,
        device_id: String,
    ) -> Promise {
        let set_sink = js::member(&element, "setSinkId");
        let Some(set_sink) = set_sink
            .dyn_ref::<js_sys::Function>()
            .filter(|_| can_select_speakers())
        else {
            return Promise::reject(&js::error_js(&CallingError::new(
                &registry::SPEAKER_SELECTION_UNSUPPORTED,
            )));
        };
        let answer = set_sink.call1(&element, &JsValue::from_str(&device_id));
        wasm_bindgen_futures::future_to_promise(async move {
            let unsupported = |e: JsValue| {
                let name = js::member(&e, "name").as_string().unwrap_or_default();
                let message = js::member(&e, "message").as_string().unwrap_or_default();
                js::error_js(
                    &CallingError::new(&registry::SPEAKER_SELECTION_UNSUPPORTED)
                        .with_raw_cause(format!("{name}: {message}")),
                )
            };
            let promise: Promise = answer.map_err(unsupported)?.unchecked_into();
            JsFuture::from(promise).await.map_err(unsupported)?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// Renders a call's remote video into `<video>` elements; every live view counts against the
/// client's limit (10 on desktop, 6 on mobile; 43220 past it).
#[wasm_bindgen]
pub struct VideoStreamRenderer {
    call: Rc<CallInner>,
    /// The participant whose video it shows; none for the 1:1 `createRemoteRenderer()`.
    participant: Option<Rc<super::group::RemoteMedia>>,
    /// Views of this renderer that hold a place in the client's budget, being created included.
    views: Rc<Cell<usize>>,
    /// What the media server was told of its live views (wasm/views.rs); dropped on dispose.
    leases: Rc<std::cell::RefCell<Vec<super::views::ViewLease>>>,
    disposed: Rc<Cell<bool>>,
}

impl VideoStreamRenderer {
    pub(crate) fn new(call: Rc<CallInner>) -> VideoStreamRenderer {
        VideoStreamRenderer {
            call,
            participant: None,
            views: Rc::new(Cell::new(0)),
            leases: Rc::default(),
            disposed: Rc::new(Cell::new(false)),
        }
    }

    pub(crate) fn of_participant(
        call: Rc<CallInner>,
        participant: Rc<super::group::RemoteMedia>,
    ) -> VideoStreamRenderer {
        VideoStreamRenderer {
            participant: Some(participant),
            ..VideoStreamRenderer::new(call)
        }
    }

    /// Whether the video it shows can be expected now.
    fn available(call: &CallInner, participant: Option<&super::group::RemoteMedia>) -> bool {
        match participant {
            Some(media) => call.participant_video_available(media),
            None => call.remote_video.get() && call.remote_stream.get_video_tracks().length() > 0,
        }
    }
}

#[wasm_bindgen]
impl VideoStreamRenderer {
    /// A renderer of a remote participant's video stream (`remoteParticipants[i].videoStreams[0]`).
    #[wasm_bindgen(constructor)]
    pub fn create(stream: &super::group::RemoteVideoStream) -> VideoStreamRenderer {
        stream.renderer()
    }

    /// A new view, once its first remote frame shows: resolves to `{target}` (a playing
    /// `<video>`). 43200 when the remote side sends no video, 43202 when it stops while the view
    /// waits, 43203 when no frame comes within `timeoutMs` (default 15000), 43209 when the
    /// renderer is disposed first, 43220 past the view limit, 500/43204 when the media server
    /// will not send this participant's video to this page (docs/web-media.md, "Layers and views").
    #[wasm_bindgen(js_name = createView, unchecked_return_type = "Promise<RemoteView>")]
    pub fn create_view(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CreateViewOptions")] options: JsValue,
    ) -> Promise {
        let fail = |error: CallingError| Promise::reject(&js::error_js(&error));
        if self.disposed.get() {
            return fail(CallingError::new(
                &registry::RENDERER_DISPOSED_DURING_CREATE,
            ));
        }
        if !Self::available(&self.call, self.participant.as_deref()) {
            return fail(CallingError::new(&registry::REMOTE_STREAM_NOT_AVAILABLE));
        }
        let Some(agent) = self.call.agent.upgrade() else {
            return fail(CallingError::new(&registry::CALL_AGENT_DISPOSED));
        };
        if let Err(error) = agent.client().views.borrow_mut().take() {
            return fail(error);
        }
        self.views.set(self.views.get() + 1);
        let client = agent.client().clone();
        let release = {
            let views = self.views.clone();
            let client = client.clone();
            move || {
                views.set(views.get().saturating_sub(1));
                client.views.borrow_mut().release();
            }
        };
        let element = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.create_element("video").ok());
        let Some(element) = element else {
            release();
            return fail(CallingError::new(&registry::VIDEO_SUBSCRIPTION_FAILED));
        };
        let timeout = js::member(&options, "timeoutMs")
            .as_f64()
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .unwrap_or(DEFAULT_VIEW_TIMEOUT_MS);
        let video: web_sys::HtmlVideoElement = element.unchecked_into();
        video.set_autoplay(true);
        video.set_muted(true);
        let _ = video.set_attribute("playsinline", "");
        let source = match &self.participant {
            Some(media) => self.call.participant_stream(media),
            None => Clone::clone(&self.call.remote_stream),
        };
        video.set_src_object(Some(&source));
        // Autoplay starts it anyway; a refused `play()` (the view given up) is not an error here.
        if let Ok(playing) = video.play() {
            wasm_bindgen_futures::spawn_local(async move {
                let _ = JsFuture::from(playing).await;
            });
        }
        let lease = self
            .participant
            .as_ref()
            .and_then(|media| super::views::ViewLease::open(&self.call, media, &video));
        let call = self.call.clone();
        let participant = self.participant.clone();
        let disposed = self.disposed.clone();
        let leases = self.leases.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            // The media server says first whether it sends this video at all (500/43204 when the
            // page already receives as many videos as it may); a refused view leaves nothing.
            if let Some(lease) = &lease {
                if let Err(refused) = lease.confirm().await {
                    video.set_src_object(None);
                    if !disposed.get() {
                        release();
                    }
                    return Err(refused);
                }
            }
            let started = js_sys::Date::now();
            loop {
                sleep(VIEW_POLL_MS).await;
                let failure = if disposed.get() {
                    // `dispose` gave this view's place back already.
                    video.set_src_object(None);
                    return Err(js::error_js(
                        &CallingError::new(&registry::RENDERER_DISPOSED_DURING_CREATE)
                            .with_context("the renderer was disposed before the first frame"),
                    ));
                } else if call.has_ended() || !Self::available(&call, participant.as_deref()) {
                    Some(
                        CallingError::new(&registry::REMOTE_STREAM_NO_LONGER_AVAILABLE)
                            .with_context("the remote video stopped before the first frame"),
                    )
                } else if video.ready_state() >= 2 && video.video_width() > 0 {
                    leases.borrow_mut().extend(lease);
                    let view = js_sys::Object::new();
                    js::set(&view, "target", &video);
                    return Ok(view.into());
                } else if js_sys::Date::now() - started > timeout {
                    Some(
                        CallingError::new(&registry::VIEW_FRAMES_TIMEOUT)
                            .with_context(format!("no frame within {timeout} ms")),
                    )
                } else {
                    None
                };
                if let Some(error) = failure {
                    video.set_src_object(None);
                    release();
                    return Err(js::error_js(&error));
                }
            }
        })
    }

    /// Stops every view of this renderer and gives them back; 43210 when already disposed.
    pub fn dispose(&self) -> Result<(), JsValue> {
        if self.disposed.replace(true) {
            return Err(js::error_js(&CallingError::new(
                &registry::RENDERER_ALREADY_DISPOSED,
            )));
        }
        self.leases.borrow_mut().clear();
        if let Some(agent) = self.call.agent.upgrade() {
            for _ in 0..self.views.replace(0) {
                agent.client().views.borrow_mut().release();
            }
        }
        Ok(())
    }
}
