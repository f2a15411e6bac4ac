//! `LocalVideoStream`: the video a call sends, from a camera (which `switchSource` changes) or
//! from a `MediaStream` the page made itself (a custom stream, which the server may forbid).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use appel_codes::{registry, CallingError};
use js_sys::{Object, Promise};
use wasm_bindgen::prelude::*;
use web_sys::{MediaStream, MediaStreamTrack, MediaStreamTrackState};

use super::call::CallInner;
use super::devices::request_media;
use super::js;
use crate::errors::DeviceOperation;

/// Where a stream's video comes from.
#[derive(Clone)]
pub(crate) enum Source {
    /// A camera, by the id the browser gave it (empty when listed before any permission).
    Camera { id: String, name: String },
    /// A stream the page made.
    Custom(MediaStream),
    /// Neither: what the page passed is kept to say so when the stream is used.
    Invalid(String),
}

thread_local! {
    /// Every stream alive, by key: a call told `startVideo(stream)` finds the stream's state here
    /// (wasm-bindgen lends exported objects to methods only as `self`).
    static STREAMS: RefCell<HashMap<u32, Weak<LocalStreamInner>>> = RefCell::new(HashMap::new());
    static NEXT_KEY: Cell<u32> = const { Cell::new(1) };
}

/// The member of a `LocalVideoStream` object that holds its key.
const KEY_MEMBER: &str = "__appelStreamKey";

fn register(inner: &Rc<LocalStreamInner>) {
    STREAMS.with(|streams| {
        let mut streams = streams.borrow_mut();
        streams.retain(|_, stream| stream.strong_count() > 0);
        streams.insert(inner.key, Rc::downgrade(inner));
    });
}

/// The stream behind a JavaScript value given as a `LocalVideoStream`, if it is one.
pub(crate) fn stream_of(value: &JsValue) -> Option<Rc<LocalStreamInner>> {
    let key = js::member(value, KEY_MEMBER).as_f64()? as u32;
    STREAMS.with(|streams| streams.borrow().get(&key).and_then(Weak::upgrade))
}

pub(crate) struct LocalStreamInner {
    key: u32,
    pub(crate) source: RefCell<Source>,
    /// Extra `MediaTrackConstraints` for the camera (resolution, frame rate…).
    constraints: JsValue,
    /// The call that sends this stream now.
    pub(crate) call: RefCell<Weak<CallInner>>,
}

/// Reads a `VideoDeviceInfo`: an object whose `id` is a string and whose `kind`, when given, is
/// `videoinput`.
fn camera_of(value: &JsValue) -> Option<(String, String)> {
    let id = js::member(value, "id").as_string()?;
    let kind = js::member(value, "kind");
    if !kind.is_undefined() && kind.as_string().as_deref() != Some("videoinput") {
        return None;
    }
    let name = js::member(value, "name").as_string().unwrap_or_default();
    Some((id, name))
}

/// The ids of the cameras the page may see, or `None` when it sees none of them (no permission
/// yet: the browser lists cameras without ids).
async fn camera_ids() -> Option<Vec<String>> {
    let devices = web_sys::window()?.navigator().media_devices().ok()?;
    let all = wasm_bindgen_futures::JsFuture::from(devices.enumerate_devices().ok()?)
        .await
        .ok()?;
    let ids: Vec<String> = js_sys::Array::from(&all)
        .iter()
        .filter(|d| js::member(d, "kind").as_string().as_deref() == Some("videoinput"))
        .filter_map(|d| js::member(&d, "deviceId").as_string())
        .filter(|id| !id.is_empty())
        .collect();
    (!ids.is_empty()).then_some(ids)
}

impl LocalStreamInner {
    fn create(source: Source, constraints: JsValue) -> Rc<LocalStreamInner> {
        let key = NEXT_KEY.with(|next| next.replace(next.get().wrapping_add(1)));
        let inner = Rc::new(LocalStreamInner {
            key,
            source: RefCell::new(source),
            constraints,
            call: RefCell::new(Weak::new()),
        });
        register(&inner);
        inner
    }

    pub(crate) fn camera(id: String, name: String) -> Rc<LocalStreamInner> {
        Self::create(Source::Camera { id, name }, JsValue::UNDEFINED)
    }

    /// A camera stream describing `track` (a call started with video from the default camera).
    pub(crate) fn of_track(track: &MediaStreamTrack) -> Rc<LocalStreamInner> {
        let settings = js::member(track, "getSettings")
            .dyn_into::<js_sys::Function>()
            .and_then(|f| f.call0(track))
            .unwrap_or(JsValue::UNDEFINED);
        let id = js::member(&settings, "deviceId")
            .as_string()
            .unwrap_or_default();
        Self::camera(id, track.label())
    }

    pub(crate) fn is_custom(&self) -> bool {
        matches!(*self.source.borrow(), Source::Custom(_))
    }

    /// The video constraints asking for camera `id` and nothing else.
    fn camera_constraints(&self, id: &str) -> JsValue {
        let video = Object::new();
        if self.constraints.is_object() {
            Object::assign(&video, &Object::from(self.constraints.clone()));
        }
        let exact = Object::new();
        js::set(&exact, "exact", &JsValue::from_str(id));
        js::set(&video, "deviceId", &exact);
        video.into()
    }

    async fn open_camera(
        &self,
        id: &str,
        timeout_ms: u32,
    ) -> Result<MediaStreamTrack, CallingError> {
        if id.is_empty() {
            return Err(
                CallingError::new(&registry::NO_VIDEO_DEVICE_SELECTED).with_context(
                    "the camera has no id: it was listed before the page could use devices",
                ),
            );
        }
        let requested = request_media(
            &JsValue::FALSE,
            &self.camera_constraints(id),
            DeviceOperation::StartVideo,
            timeout_ms,
        )
        .await;
        let stream = match requested {
            Ok(stream) => stream,
            // The browser says which constraint failed only loosely; the list of cameras tells a
            // camera that is not here (another profile's, unplugged) from settings it cannot give.
            Err(error) if error.is(&registry::VIDEO_CONSTRAINTS_FAILED) => {
                return Err(match camera_ids().await {
                    Some(ids) if !ids.iter().any(|known| known == id) => {
                        CallingError::new(&registry::NO_VIDEO_DEVICE_SELECTED)
                            .with_context("no camera with this id on this device")
                            .with_raw_cause(error.raw_cause().unwrap_or_default().to_string())
                    }
                    _ => error,
                });
            }
            Err(error) => return Err(error),
        };
        stream
            .get_video_tracks()
            .get(0)
            .dyn_into()
            .map_err(|_| CallingError::new(&registry::START_VIDEO_INVALID_STREAM))
    }

    /// The video track to send for this stream. A custom stream must be allowed by the server
    /// (`custom_streams`), have a live track, and have video among them.
    pub(crate) async fn track(
        &self,
        custom_streams: bool,
        timeout_ms: u32,
    ) -> Result<MediaStreamTrack, CallingError> {
        let source = self.source.borrow().clone();
        match source {
            Source::Camera { id, .. } => self.open_camera(&id, timeout_ms).await,
            Source::Custom(stream) => {
                if !custom_streams {
                    return Err(CallingError::new(&registry::CUSTOM_MEDIA_STREAM_DISABLED)
                        .with_context("media.custom_streams is false on this server"));
                }
                let live: Vec<MediaStreamTrack> = stream
                    .get_tracks()
                    .iter()
                    .map(|t| t.unchecked_into::<MediaStreamTrack>())
                    .filter(|t| t.ready_state() == MediaStreamTrackState::Live)
                    .collect();
                if live.is_empty() {
                    return Err(CallingError::new(&registry::START_VIDEO_INVALID_STREAM)
                        .with_context("the MediaStream has no live track"));
                }
                live.into_iter()
                    .find(|t| t.kind() == "video")
                    .ok_or_else(|| {
                        CallingError::new(&registry::UNSUPPORTED_VIDEO_STREAM)
                            .with_context("the MediaStream has no video track")
                    })
            }
            Source::Invalid(what) => Err(CallingError::new(&registry::START_VIDEO_INVALID_STREAM)
                .with_context(format!(
                    "the source is {what}, not a camera or a MediaStream"
                ))),
        }
    }
}

/// The video a call sends: `new LocalVideoStream(camera)` with a `VideoDeviceInfo` from
/// `DeviceManager.getCameras()`, or `new LocalVideoStream(mediaStream)` with a stream the page made
/// (a canvas capture, say), which the server may disable (41073).
#[wasm_bindgen]
pub struct LocalVideoStream {
    pub(crate) inner: Rc<LocalStreamInner>,
}

impl LocalVideoStream {
    pub(crate) fn wrap(inner: Rc<LocalStreamInner>) -> LocalVideoStream {
        LocalVideoStream { inner }
    }
}

#[wasm_bindgen(typescript_custom_section)]
const LOCAL_STREAM_TYPES: &'static str = r#"
/** Options of `new LocalVideoStream(source, options)`. */
export interface LocalVideoStreamOptions {
  /** Constraints added to the camera's (resolution, frame rate…); ignored for a custom stream. */
  constraints?: MediaTrackConstraints;
}
/** The forms without their optional argument (declaration merging adds them to the classes). */
export interface Call {
  /** Sends the default camera. */
  startVideo(): Promise<void>;
  /** Stops the video sent, whichever stream it is. */
  stopVideo(): Promise<void>;
}
export interface VideoStreamRenderer {
  /** A view with the default wait for the first frame. */
  createView(): Promise<RemoteView>;
}
"#;

#[wasm_bindgen]
impl LocalVideoStream {
    /// A stream of a camera or of a page's own `MediaStream`. What it is checked against happens
    /// when a call sends it (`startVideo`): 41025 for a source that is neither, 43019 for a camera
    /// without an id, 43017 for a stream without video, 41073 when the server forbids custom ones.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "VideoDeviceInfo | MediaStream")] source: JsValue,
        #[wasm_bindgen(unchecked_param_type = "LocalVideoStreamOptions")] options: JsValue,
    ) -> LocalVideoStream {
        let source = if source.is_instance_of::<MediaStream>() {
            Source::Custom(source.unchecked_into())
        } else if let Some((id, name)) = camera_of(&source) {
            Source::Camera { id, name }
        } else {
            Source::Invalid(
                source
                    .js_typeof()
                    .as_string()
                    .unwrap_or_else(|| "unknown".into()),
            )
        };
        LocalVideoStream {
            inner: LocalStreamInner::create(source, js::member(&options, "constraints")),
        }
    }

    /// The key `startVideo`/`stopVideo` find this stream by.
    #[wasm_bindgen(getter = __appelStreamKey, skip_typescript)]
    pub fn key(&self) -> u32 {
        self.inner.key
    }

    /// `Video` (a camera) or `Custom` (a page's own stream).
    #[wasm_bindgen(getter, js_name = mediaStreamType, unchecked_return_type = "\"Video\" | \"Custom\"")]
    pub fn media_stream_type(&self) -> String {
        if self.inner.is_custom() {
            "Custom"
        } else {
            "Video"
        }
        .to_string()
    }

    /// The camera, `{id, name, kind}`; `null` for a custom stream.
    #[wasm_bindgen(getter, unchecked_return_type = "VideoDeviceInfo | null")]
    pub fn source(&self) -> JsValue {
        match &*self.inner.source.borrow() {
            Source::Camera { id, name } => js::to_js(&serde_json::json!({
                "id": id, "name": name, "kind": "videoinput",
            })),
            _ => JsValue::NULL,
        }
    }

    /// What a call sends of this stream now, for a preview (`null` when no call sends it).
    #[wasm_bindgen(js_name = getMediaStream)]
    pub fn get_media_stream(&self) -> Option<MediaStream> {
        let call = self.inner.call.borrow().upgrade()?;
        let track = call.local_video.borrow().clone()?;
        let stream = MediaStream::new().ok()?;
        stream.add_track(&track);
        Some(stream)
    }

    /// Moves this stream to another camera; a call sending it goes on with the new one. 43004
    /// for something that is not a camera (or a custom stream, which has none), 43005 for the
    /// camera in use, 43019 for a camera without an id; the camera's own failures otherwise.
    #[wasm_bindgen(js_name = switchSource, unchecked_return_type = "Promise<void>")]
    pub fn switch_source(
        &self,
        #[wasm_bindgen(unchecked_param_type = "VideoDeviceInfo")] camera: JsValue,
    ) -> Promise {
        let invalid = |context: &str| {
            Promise::reject(&js::error_js(
                &CallingError::new(&registry::SWITCH_CAMERA_INVALID_INPUT).with_context(context),
            ))
        };
        let Some((id, name)) = camera_of(&camera) else {
            return invalid("expected a VideoDeviceInfo from DeviceManager.getCameras()");
        };
        let current = match &*self.inner.source.borrow() {
            Source::Camera { id, .. } => id.clone(),
            _ => return invalid("this stream is not a camera's"),
        };
        if current == id {
            let error = CallingError::new(&registry::SWITCH_CAMERA_SAME_DEVICE)
                .with_context(format!("camera {name}"));
            if let Some(call) = self.inner.call.borrow().upgrade() {
                call.device_failed(&error);
            }
            return Promise::reject(&js::error_js(&error));
        }
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let call = inner.call.borrow().upgrade().filter(|c| !c.has_ended());
            if let Some(call) = call {
                let timeout = call
                    .agent
                    .upgrade()
                    .map(|a| a.client().media_timeout_ms)
                    .unwrap_or(super::devices::DEFAULT_MEDIA_TIMEOUT_MS);
                let track = inner.open_camera(&id, timeout).await.map_err(|e| {
                    call.device_failed(&e);
                    js::error_js(&e)
                })?;
                if !call.replace_camera(&inner, track.clone()) {
                    track.stop();
                }
            } else if id.is_empty() {
                return Err(js::error_js(
                    &CallingError::new(&registry::NO_VIDEO_DEVICE_SELECTED)
                        .with_context("the camera has no id"),
                ));
            }
            *inner.source.borrow_mut() = Source::Camera { id, name };
            Ok(JsValue::UNDEFINED)
        })
    }
}
