//! Devices (`DeviceManager`, `getUserMedia` and its DOMException mapping) and the renderer of
//! remote video with the per-client view limit.

use std::cell::Cell;
use std::rc::Rc;

use appel_codes::{registry, CallingError};
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaStream, MediaStreamConstraints};

use super::call::CallInner;
use super::js;
use crate::errors::{device_error, DeviceOperation};

/// The catalogue error for a rejected media promise (a DOMException, by name).
pub(crate) fn dom_error(value: &JsValue, operation: DeviceOperation) -> CallingError {
    let name = js::member(value, "name").as_string().unwrap_or_default();
    let message = js::member(value, "message").as_string().unwrap_or_default();
    device_error(&name, &message, operation)
}

/// `getUserMedia` with the failure mapped for `operation`.
pub(crate) async fn get_user_media(
    audio: bool,
    video: bool,
    operation: DeviceOperation,
) -> Result<MediaStream, CallingError> {
    let devices = web_sys::window()
        .and_then(|w| w.navigator().media_devices().ok())
        .ok_or_else(|| device_error("NotFoundError", "no media devices API", operation))?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&JsValue::from_bool(audio));
    constraints.set_video(&JsValue::from_bool(video));
    let promise = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(|e| dom_error(&e, operation))?;
    JsFuture::from(promise)
        .await
        .map(|stream| stream.unchecked_into())
        .map_err(|e| dom_error(&e, operation))
}

/// Cameras, microphones and speakers, and the permission to use them.
#[wasm_bindgen]
pub struct DeviceManager {}

impl DeviceManager {
    pub(crate) fn new() -> DeviceManager {
        DeviceManager {}
    }
}

#[wasm_bindgen]
impl DeviceManager {
    /// Asks for `{audio, video}`; resolves to the same shape with what was granted; rejects
    /// with 40613 when refused and 40614 when the request itself failed.
    #[wasm_bindgen(js_name = askDevicePermission)]
    pub fn ask_device_permission(&self, kinds: JsValue) -> Promise {
        let audio = js::member(&kinds, "audio").as_bool().unwrap_or(false);
        let video = js::member(&kinds, "video").as_bool().unwrap_or(false);
        wasm_bindgen_futures::future_to_promise(async move {
            let stream = get_user_media(audio, video, DeviceOperation::AskPermission)
                .await
                .map_err(|e| js::error_js(&e))?;
            let granted = serde_json::json!({
                "audio": stream.get_audio_tracks().length() > 0,
                "video": stream.get_video_tracks().length() > 0,
            });
            for track in stream.get_tracks().iter() {
                track.unchecked_into::<web_sys::MediaStreamTrack>().stop();
            }
            Ok(js::to_js(&granted))
        })
    }

    /// Lists devices of one kind: `videoinput` (cameras), `audioinput`, `audiooutput`.
    #[wasm_bindgen(js_name = listDevices)]
    pub fn list_devices(&self, kind: String) -> Promise {
        wasm_bindgen_futures::future_to_promise(async move {
            let devices = web_sys::window()
                .and_then(|w| w.navigator().media_devices().ok())
                .ok_or_else(|| {
                    js::error_js(&CallingError::new(
                        &registry::DEVICE_PERMISSION_REQUEST_FAILED,
                    ))
                })?;
            let promise = devices
                .enumerate_devices()
                .map_err(|e| js::error_js(&dom_error(&e, DeviceOperation::AskPermission)))?;
            let all = JsFuture::from(promise)
                .await
                .map_err(|e| js::error_js(&dom_error(&e, DeviceOperation::AskPermission)))?;
            let list = js_sys::Array::new();
            for device in js_sys::Array::from(&all).iter() {
                if js::member(&device, "kind").as_string().as_deref() == Some(kind.as_str()) {
                    let info = serde_json::json!({
                        "id": js::member(&device, "deviceId").as_string(),
                        "name": js::member(&device, "label").as_string(),
                    });
                    list.push(&js::to_js(&info));
                }
            }
            Ok(list.into())
        })
    }

    /// Plays a media element's sound on the speaker `deviceId`; 40606 where the browser cannot
    /// select audio outputs (`setSinkId` missing).
    #[wasm_bindgen(js_name = selectSpeaker)]
    pub fn select_speaker(&self, element: JsValue, device_id: String) -> Promise {
        let set_sink = js::member(&element, "setSinkId");
        let Some(set_sink) = set_sink.dyn_ref::<js_sys::Function>() else {
            return Promise::reject(&js::error_js(&CallingError::new(
                &registry::SPEAKER_SELECTION_UNSUPPORTED,
            )));
        };
        let answer = set_sink.call1(&element, &JsValue::from_str(&device_id));
        wasm_bindgen_futures::future_to_promise(async move {
            let unsupported = |e: JsValue| {
                js::error_js(
                    &CallingError::new(&registry::SPEAKER_SELECTION_UNSUPPORTED)
                        .with_raw_cause(format!("{}", js::from_js(&e))),
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
    views: Cell<usize>,
    disposed: Cell<bool>,
}

impl VideoStreamRenderer {
    pub(crate) fn new(call: Rc<CallInner>) -> VideoStreamRenderer {
        VideoStreamRenderer {
            call,
            views: Cell::new(0),
            disposed: Cell::new(false),
        }
    }
}

#[wasm_bindgen]
impl VideoStreamRenderer {
    /// A new view: resolves to `{target}` (a playing `<video>` element). 43200 when the remote
    /// side sends no video, 43209 after `dispose`, 43220 past the view limit.
    #[wasm_bindgen(js_name = createView)]
    pub fn create_view(&self) -> Promise {
        let fail = |error: CallingError| Promise::reject(&js::error_js(&error));
        if self.disposed.get() {
            return fail(CallingError::new(
                &registry::RENDERER_DISPOSED_DURING_CREATE,
            ));
        }
        if !self.call.remote_video.get() || self.call.remote_stream.get_video_tracks().length() == 0
        {
            return fail(CallingError::new(&registry::REMOTE_STREAM_NOT_AVAILABLE));
        }
        let Some(agent) = self.call.agent.upgrade() else {
            return fail(CallingError::new(&registry::CALL_AGENT_DISPOSED));
        };
        if let Err(error) = agent.client().views.borrow_mut().take() {
            return fail(error);
        }
        self.views.set(self.views.get() + 1);
        let element = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.create_element("video").ok());
        let Some(element) = element else {
            agent.client().views.borrow_mut().release();
            return fail(CallingError::new(&registry::VIDEO_SUBSCRIPTION_FAILED));
        };
        let video: web_sys::HtmlVideoElement = element.unchecked_into();
        video.set_autoplay(true);
        video.set_muted(true);
        let _ = video.set_attribute("playsinline", "");
        video.set_src_object(Some(&self.call.remote_stream));
        let view = js_sys::Object::new();
        js::set(&view, "target", &video);
        Promise::resolve(&JsValue::from(view))
    }

    /// Stops every view of this renderer and gives them back; 43210 when already disposed.
    pub fn dispose(&self) -> Result<(), JsValue> {
        if self.disposed.replace(true) {
            return Err(js::error_js(&CallingError::new(
                &registry::RENDERER_ALREADY_DISPOSED,
            )));
        }
        if let Some(agent) = self.call.agent.upgrade() {
            for _ in 0..self.views.replace(0) {
                agent.client().views.borrow_mut().release();
            }
        }
        Ok(())
    }
}
