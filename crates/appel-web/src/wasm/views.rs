//! Simulcast in a group call: the camera goes to the media server in three layers, and the views
//! a page makes of the others' video tell the server which layer each should get (`mediaView`,
//! docs/protocol.md).
//!
//! Every remote participant keeps the sizes its live views render at; the server is told the
//! largest (one video stream per participant reaches this page, so the biggest view decides), a
//! resize a moment after the element settles, and 0×0 once the last view is gone, which pauses
//! that video and frees its place under `media.max_video_subscriptions`. The first view of a
//! stream waits for the server's answer, so a refusal (500/43204) fails `createView` itself.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use appel_codes::{registry, CallingError};
use appel_protocol::{ClientFrame, ParticipantId};
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{HtmlVideoElement, RtcRtpTransceiverDirection, RtcRtpTransceiverInit};

use super::call::CallInner;
use super::group::{RemoteMedia, RemoteVideoStream};
use super::js;

/// How long a view's size must stay put before the server hears of it: a window being dragged
/// resizes its elements at every frame, and each `mediaView` may cost a keyframe.
const RESIZE_SETTLE_MS: i32 = 300;
/// The size asked for a view not laid out yet (the element joins the page once `createView`
/// resolves): a mid-sized tile, corrected as soon as the element has a size of its own.
const UNPLACED_VIEW: Size = (320, 180);

/// The send-only video transceiver of the connection to the media server: three simulcast layers
/// (a quarter, half and full resolution) when the server picks one per subscriber, one otherwise.
/// The rates are ceilings for a camera picture; the browser leaves out the top layers its uplink
/// estimate cannot carry.
pub(crate) fn video_transceiver(call: &CallInner) -> RtcRtpTransceiverInit {
    let init = RtcRtpTransceiverInit::new();
    init.set_direction(RtcRtpTransceiverDirection::Sendonly);
    if layered(call) {
        let encodings = serde_json::json!([
            {"rid": "q", "scaleResolutionDownBy": 4.0, "maxBitrate": 150_000},
            {"rid": "h", "scaleResolutionDownBy": 2.0, "maxBitrate": 500_000},
            {"rid": "f", "scaleResolutionDownBy": 1.0, "maxBitrate": 1_500_000},
        ]);
        init.set_send_encodings(&js::to_js(&encodings));
    }
    init
}

/// Whether this call's server takes `mediaView`, so layers and views mean something to it.
fn layered(call: &CallInner) -> bool {
    call.agent
        .upgrade()
        .is_some_and(|agent| agent.media_views.get())
}

/// A width and height in device pixels.
type Size = (u32, u32);

/// The sizes the live views of one participant's video render at, and what the server was told.
#[derive(Default)]
pub(crate) struct ViewSizes {
    next: Cell<u64>,
    /// Each live view: its id and its size in device pixels (`None` until laid out).
    live: RefCell<Vec<(u64, Option<Size>)>>,
    /// The size last sent (or being sent); `None` before any.
    sent: Cell<Option<Size>>,
    /// Bumped at each resize: only the last one of a burst is sent.
    settling: Cell<u64>,
    /// The request not answered yet: a view made meanwhile that needs no new size still depends
    /// on its answer (the server may refuse the video to both).
    unanswered: RefCell<Option<(u64, Promise)>>,
    /// Counts the requests, to tell which one is unanswered.
    asked: Cell<u64>,
}

impl ViewSizes {
    /// What the server should send: the largest view, or 0×0 (paused) without any.
    fn wanted(&self) -> Size {
        self.live
            .borrow()
            .iter()
            .map(|(_, size)| size.unwrap_or(UNPLACED_VIEW))
            .fold((0, 0), |(w, h), (vw, vh)| (w.max(vw), h.max(vh)))
    }
}

/// Tells the server the size `media`'s video is wanted at, if that changed. Answers the request's
/// promise when one left (it rejects with the server's error); when it is refused, what was sent
/// before stands again, as it does on the server.
fn push(call: &CallInner, media: &Rc<RemoteMedia>) -> Option<Promise> {
    let sizes = &media.views;
    let wanted = sizes.wanted();
    let before = sizes.sent.get();
    if before == Some(wanted) || (before.is_none() && wanted == (0, 0)) || call.has_ended() {
        return None;
    }
    let agent = call.agent.upgrade()?;
    let call_id = call.call_id()?;
    sizes.sent.set(Some(wanted));
    let turn = sizes.asked.get() + 1;
    sizes.asked.set(turn);
    let participant = ParticipantId::new(media.id.clone());
    let answered = agent.request(
        |request_id| ClientFrame::MediaView {
            request_id,
            call_id,
            participant,
            width: wanted.0,
            height: wanted.1,
        },
        &registry::SIGNALING_REQUEST_TIMEOUT,
        "mediaView",
    );
    let weak = Rc::downgrade(media);
    let settled = Promise::new(&mut |resolve, reject| {
        let weak = weak.clone();
        let answered = answered.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let outcome = JsFuture::from(answered).await;
            if let Some(media) = weak.upgrade() {
                let mut unanswered = media.views.unanswered.borrow_mut();
                if unanswered.as_ref().is_some_and(|(asked, _)| *asked == turn) {
                    *unanswered = None;
                }
            }
            match outcome {
                Ok(value) => {
                    let _ = resolve.call1(&JsValue::UNDEFINED, &value);
                }
                Err(error) => {
                    if let Some(media) = weak.upgrade() {
                        if media.views.sent.get() == Some(wanted) {
                            media.views.sent.set(before);
                        }
                    }
                    let _ = reject.call1(&JsValue::UNDEFINED, &error);
                }
            }
        });
    });
    // Only the latest request is waited on by later views: an earlier one is superseded by it.
    *sizes.unanswered.borrow_mut() = Some((turn, settled.clone()));
    Some(settled)
}

/// A view's element, in device pixels (rounded); `None` while it has no box (not in the page, or
/// hidden), which keeps the size it had.
fn measure(element: &HtmlVideoElement) -> Option<Size> {
    // The layout box in CSS pixels (`getBoundingClientRect` needs a binding the package has not
    // got; the box's whole pixels are precise enough to pick a layer).
    let (width, height) = (
        f64::from(element.client_width()),
        f64::from(element.client_height()),
    );
    let ratio = web_sys::window()
        .map(|w| w.device_pixel_ratio())
        .filter(|r| r.is_finite() && *r > 0.0)
        .unwrap_or(1.0);
    let scale = |css: f64| (css * ratio).round().clamp(0.0, f64::from(u32::MAX)) as u32;
    let size = (scale(width), scale(height));
    (size.0 > 0 && size.1 > 0).then_some(size)
}

/// One view of a remote participant's video that the server knows of. Dropping it (the view
/// failed, or its renderer was disposed) stops watching its element and tells the server the
/// size that is left, 0×0 when it was the last.
pub(crate) struct ViewLease {
    call: Weak<CallInner>,
    media: Rc<RemoteMedia>,
    id: u64,
    observer: JsValue,
}

impl ViewLease {
    /// Registers a view of `media` shown in `element`, when the server picks layers and the video
    /// comes through it (a peer-to-peer video has no layers); `None` otherwise.
    pub(crate) fn open(
        call: &Rc<CallInner>,
        media: &Rc<RemoteMedia>,
        element: &HtmlVideoElement,
    ) -> Option<ViewLease> {
        if !layered(call) || call.carried_peer_to_peer(media) {
            return None;
        }
        let id = media.views.next.get() + 1;
        media.views.next.set(id);
        media.views.live.borrow_mut().push((id, measure(element)));
        let observer = observe(call, media, id, element);
        Some(ViewLease {
            call: Rc::downgrade(call),
            media: media.clone(),
            id,
            observer,
        })
    }

    /// Tells the server of this view, when it changes what the server sends; fails with the
    /// server's refusal (500/43204, its reason in `rawCause`).
    pub(crate) async fn confirm(&self) -> Result<(), JsValue> {
        let Some(call) = self.call.upgrade() else {
            return Ok(());
        };
        let request = push(&call, &self.media).or_else(|| {
            let unanswered = self.media.views.unanswered.borrow();
            unanswered.as_ref().map(|(_, request)| request.clone())
        });
        let Some(request) = request else {
            return Ok(());
        };
        JsFuture::from(request).await.map(|_| ()).map_err(|error| {
            // An answer that is not the catalogue's is still reported as the view's failure.
            if js::member(&error, "subCode").is_undefined() {
                js::error_js(
                    &CallingError::new(&registry::VIDEO_SUBSCRIPTION_FAILED)
                        .with_raw_cause(format!("{}", js::from_js(&error))),
                )
            } else {
                error
            }
        })
    }
}

impl Drop for ViewLease {
    fn drop(&mut self) {
        if let Ok(disconnect) =
            js_sys::Reflect::get(&self.observer, &JsValue::from_str("disconnect"))
        {
            if let Some(disconnect) = disconnect.dyn_ref::<js_sys::Function>() {
                let _ = disconnect.call0(&self.observer);
            }
        }
        self.media
            .views
            .live
            .borrow_mut()
            .retain(|(id, _)| *id != self.id);
        if let Some(call) = self.call.upgrade() {
            if let Some(request) = push(&call, &self.media) {
                // Nothing waits on a pause: a refusal leaves the video where it was.
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = JsFuture::from(request).await;
                });
            }
        }
    }
}

/// Watches `element`'s size (a `ResizeObserver`); the server hears of a new size once it settled.
fn observe(
    call: &Rc<CallInner>,
    media: &Rc<RemoteMedia>,
    id: u64,
    element: &HtmlVideoElement,
) -> JsValue {
    let call = Rc::downgrade(call);
    let weak = Rc::downgrade(media);
    let watched = element.clone();
    let resized = js::callback(move |_| {
        let Some(media) = weak.upgrade() else { return };
        let Some(size) = measure(&watched) else {
            return;
        };
        let mut changed = false;
        for (view, known) in media.views.live.borrow_mut().iter_mut() {
            if *view == id && *known != Some(size) {
                *known = Some(size);
                changed = true;
            }
        }
        if !changed {
            return;
        }
        let turn = media.views.settling.get() + 1;
        media.views.settling.set(turn);
        let (call, weak) = (call.clone(), weak.clone());
        js::after(RESIZE_SETTLE_MS, move || {
            let (Some(call), Some(media)) = (call.upgrade(), weak.upgrade()) else {
                return;
            };
            if media.views.settling.get() != turn {
                return;
            }
            if let Some(request) = push(&call, &media) {
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = JsFuture::from(request).await;
                });
            }
        });
    });
    let observer = web_sys::window()
        .and_then(|w| js_sys::Reflect::get(&w, &JsValue::from_str("ResizeObserver")).ok())
        .and_then(|class| class.dyn_into::<js_sys::Function>().ok())
        .and_then(|class| js_sys::Reflect::construct(&class, &js_sys::Array::of1(&resized)).ok());
    let Some(observer) = observer else {
        // Without ResizeObserver the view keeps the size it had when it was made.
        return JsValue::UNDEFINED;
    };
    if let Ok(observe) = js_sys::Reflect::get(&observer, &JsValue::from_str("observe")) {
        if let Some(observe) = observe.dyn_ref::<js_sys::Function>() {
            let _ = observe.call1(&observer, element);
        }
    }
    observer
}

/// `{frameWidth, frameHeight, framesDecoded, bytesReceived}` of the video the media server sends
/// of `media` (zeros before any).
pub(crate) async fn video_stats(media: &RemoteMedia) -> Result<JsValue, JsValue> {
    let (mut width, mut height, mut frames, mut bytes) = (0.0, 0.0, 0.0, 0.0);
    let receiver = media.video_receiver.borrow().clone();
    if let Some(receiver) = receiver {
        let report = JsFuture::from(receiver.get_stats()).await?;
        super::group::for_each_stat(&report, |stat| {
            if js::member(stat, "type").as_string().as_deref() == Some("inbound-rtp") {
                width = js::member(stat, "frameWidth").as_f64().unwrap_or(0.0);
                height = js::member(stat, "frameHeight").as_f64().unwrap_or(0.0);
                frames += js::member(stat, "framesDecoded").as_f64().unwrap_or(0.0);
                bytes += js::member(stat, "bytesReceived").as_f64().unwrap_or(0.0);
            }
        });
    }
    let out = js_sys::Object::new();
    js::set(&out, "frameWidth", &JsValue::from_f64(width));
    js::set(&out, "frameHeight", &JsValue::from_f64(height));
    js::set(&out, "framesDecoded", &JsValue::from_f64(frames));
    js::set(&out, "bytesReceived", &JsValue::from_f64(bytes));
    Ok(out.into())
}

#[wasm_bindgen]
impl RemoteVideoStream {
    /// `{frameWidth, frameHeight, framesDecoded, bytesReceived}` of this video as the media
    /// server sends it (the simulcast layer this page gets); zeros before any frame.
    #[wasm_bindgen(
        unchecked_return_type = "Promise<{frameWidth: number, frameHeight: number, framesDecoded: number, bytesReceived: number}>"
    )]
    pub fn stats(&self) -> Promise {
        let media = self.media.clone();
        wasm_bindgen_futures::future_to_promise(async move { video_stats(&media).await })
    }
}
