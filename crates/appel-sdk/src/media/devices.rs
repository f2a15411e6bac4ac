//! Devices: the microphones and cameras a call can use, each with a state a real device can be
//! in (free, held by another application, refused by the user, unplugged). This build has virtual
//! devices only; a call reads their state exactly where it would read a real device's, so every
//! device error the SDK returns comes from this state, never from a special test path.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use appel_codes::{registry, CallingError, Entry};
use tokio::sync::watch;

/// Numbers device managers, so a device of one is never taken for one of another.
static MANAGERS: AtomicU64 = AtomicU64::new(1);

/// How a device fails when asked for, as a real one can.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceFailure {
    /// Another application holds it.
    InUse,
    /// The user (or the system) refused this application access to it.
    PermissionDenied,
}

/// What a device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum DeviceKind {
    Microphone,
    Camera,
}

/// A camera listed by a [`DeviceManager`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VideoDeviceInfo {
    id: String,
    name: String,
    manager: u64,
}

impl VideoDeviceInfo {
    /// Its id, stable while it stays plugged in.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its name, for a picker.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A microphone listed by a [`DeviceManager`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AudioDeviceInfo {
    id: String,
    name: String,
    manager: u64,
}

impl AudioDeviceInfo {
    /// Its id, stable while it stays plugged in.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its name, for a picker.
    pub fn name(&self) -> &str {
        &self.name
    }
}

struct Device {
    kind: DeviceKind,
    name: String,
    failure: Option<DeviceFailure>,
}

struct Devices {
    next: u64,
    plugged: BTreeMap<String, Device>,
    microphone: Option<String>,
}

pub(crate) struct ManagerShared {
    id: u64,
    devices: Mutex<Devices>,
    /// Bumped on every change, so calls notice a device failing mid-call.
    changes: watch::Sender<u64>,
}

/// The devices of one [`crate::CallClient`]: list them, pick the microphone, and (for virtual
/// devices) plug, fail and unplug them. Cloning gives another handle to the same devices.
#[derive(Clone)]
pub struct DeviceManager {
    shared: Arc<ManagerShared>,
}

impl std::fmt::Debug for DeviceManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceManager")
            .field("cameras", &self.cameras().len())
            .field("microphones", &self.microphones().len())
            .finish()
    }
}

impl Default for DeviceManager {
    fn default() -> Self {
        DeviceManager::new()
    }
}

impl DeviceManager {
    /// A manager with no device.
    pub fn new() -> Self {
        DeviceManager {
            shared: Arc::new(ManagerShared {
                id: MANAGERS.fetch_add(1, Ordering::Relaxed),
                devices: Mutex::new(Devices {
                    next: 1,
                    plugged: BTreeMap::new(),
                    microphone: None,
                }),
                changes: watch::channel(0).0,
            }),
        }
    }

    pub(crate) fn shared(&self) -> Arc<ManagerShared> {
        self.shared.clone()
    }

    /// Plugs in a virtual camera that films generated VP8 video (30 frames a second).
    pub fn add_virtual_camera(&self, name: &str) -> VirtualDevice {
        self.add(DeviceKind::Camera, name)
    }

    /// Plugs in a virtual microphone that records generated Opus audio (20 ms frames).
    pub fn add_virtual_microphone(&self, name: &str) -> VirtualDevice {
        self.add(DeviceKind::Microphone, name)
    }

    fn add(&self, kind: DeviceKind, name: &str) -> VirtualDevice {
        let id = self.shared.change(|devices| {
            let prefix = match kind {
                DeviceKind::Camera => "camera",
                DeviceKind::Microphone => "microphone",
            };
            let id = format!("virtual-{prefix}-{}", devices.next);
            devices.next += 1;
            devices.plugged.insert(
                id.clone(),
                Device {
                    kind,
                    name: name.to_owned(),
                    failure: None,
                },
            );
            id
        });
        VirtualDevice {
            shared: self.shared.clone(),
            id,
            kind,
            name: name.to_owned(),
        }
    }

    /// The cameras plugged in, in the order they came.
    pub fn cameras(&self) -> Vec<VideoDeviceInfo> {
        self.shared
            .listed(DeviceKind::Camera)
            .into_iter()
            .map(|(id, name)| VideoDeviceInfo {
                id,
                name,
                manager: self.shared.id,
            })
            .collect()
    }

    /// The microphones plugged in, in the order they came.
    pub fn microphones(&self) -> Vec<AudioDeviceInfo> {
        self.shared
            .listed(DeviceKind::Microphone)
            .into_iter()
            .map(|(id, name)| AudioDeviceInfo {
                id,
                name,
                manager: self.shared.id,
            })
            .collect()
    }

    /// The microphone calls use from now on (the first listed until one is chosen). 400/900900
    /// for one of another manager; 412/900641 for one no longer plugged in.
    pub fn select_microphone(&self, microphone: &AudioDeviceInfo) -> Result<(), CallingError> {
        if microphone.manager != self.shared.id {
            return Err(CallingError::new(&registry::INVALID_ARGUMENT)
                .with_context("select_microphone: a microphone listed by this DeviceManager"));
        }
        let mut devices = self.shared.lock();
        if !devices.plugged.contains_key(&microphone.id) {
            return Err(CallingError::new(&registry::NO_MICROPHONE_FOUND)
                .with_context(format!("microphone {} is unplugged", microphone.name)));
        }
        devices.microphone = Some(microphone.id.clone());
        Ok(())
    }

    /// The microphone calls use: the chosen one while plugged in, else the first listed.
    pub fn selected_microphone(&self) -> Option<AudioDeviceInfo> {
        let id = self.shared.microphone_id()?;
        self.microphones().into_iter().find(|m| m.id == id)
    }
}

impl ManagerShared {
    fn lock(&self) -> MutexGuard<'_, Devices> {
        // Plain data behind the lock; a panic elsewhere leaves it readable.
        self.devices
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn change<T>(&self, change: impl FnOnce(&mut Devices) -> T) -> T {
        let result = change(&mut self.lock());
        self.changes.send_modify(|version| *version += 1);
        result
    }

    fn listed(&self, kind: DeviceKind) -> Vec<(String, String)> {
        let devices = self.lock();
        let mut listed: Vec<(u64, String, String)> = devices
            .plugged
            .iter()
            .filter(|(_, d)| d.kind == kind)
            .map(|(id, d)| (order(id), id.clone(), d.name.clone()))
            .collect();
        listed.sort();
        listed.into_iter().map(|(_, id, name)| (id, name)).collect()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub(crate) fn is_own_camera(&self, camera: &VideoDeviceInfo) -> bool {
        camera.manager == self.id
    }

    pub(crate) fn first_camera(&self) -> Option<(String, String)> {
        self.listed(DeviceKind::Camera).into_iter().next()
    }

    /// The microphone a call takes: the chosen one while plugged in, else the first listed.
    pub(crate) fn microphone_id(&self) -> Option<String> {
        let chosen = {
            let devices = self.lock();
            devices
                .microphone
                .clone()
                .filter(|id| devices.plugged.contains_key(id))
        };
        chosen.or_else(|| {
            self.listed(DeviceKind::Microphone)
                .into_iter()
                .next()
                .map(|(id, _)| id)
        })
    }

    /// Opens device `id` as a call would: `Ok` when it can capture now, else the catalogue's
    /// error for its state.
    pub(crate) fn open(&self, kind: DeviceKind, id: &str) -> Result<(), CallingError> {
        let devices = self.lock();
        let state = devices.plugged.get(id).filter(|d| d.kind == kind);
        let (entry, why): (&'static Entry, String) = match (kind, state) {
            (_, Some(Device { failure: None, .. })) => return Ok(()),
            (DeviceKind::Camera, None) => (
                &registry::NO_VIDEO_DEVICE_SELECTED,
                format!("camera {id} is no longer plugged in"),
            ),
            (DeviceKind::Microphone, None) => (
                &registry::NO_MICROPHONE_FOUND,
                format!("microphone {id} is no longer plugged in"),
            ),
            (
                kind,
                Some(Device {
                    name,
                    failure: Some(failure),
                    ..
                }),
            ) => (failure_entry(kind, *failure), name.clone()),
        };
        Err(CallingError::new(entry).with_context(why))
    }
}

/// The catalogue entry of a device of `kind` failing with `failure`.
fn failure_entry(kind: DeviceKind, failure: DeviceFailure) -> &'static Entry {
    match (kind, failure) {
        (DeviceKind::Camera, DeviceFailure::InUse) => &registry::CAMERA_IN_USE,
        (DeviceKind::Camera, DeviceFailure::PermissionDenied) => {
            &registry::CAMERA_PERMISSION_NOT_GRANTED
        }
        (DeviceKind::Microphone, DeviceFailure::InUse) => &registry::MICROPHONE_UNAVAILABLE,
        (DeviceKind::Microphone, DeviceFailure::PermissionDenied) => {
            &registry::MICROPHONE_PERMISSION_NOT_GRANTED
        }
    }
}

/// Ids sort by the order devices were plugged in.
fn order(id: &str) -> u64 {
    id.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

/// A virtual device plugged into a [`DeviceManager`]: tell it to fail as a real one does, to
/// recover, or unplug it — before a call or during one (a call using it then stops using it and
/// says so with [`crate::CallEvent::DeviceFailed`]).
#[derive(Clone)]
pub struct VirtualDevice {
    shared: Arc<ManagerShared>,
    id: String,
    kind: DeviceKind,
    name: String,
}

impl std::fmt::Debug for VirtualDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualDevice")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish()
    }
}

impl VirtualDevice {
    /// Its id in the manager's lists.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The camera as the manager lists it (`None` for a microphone).
    pub fn camera(&self) -> Option<VideoDeviceInfo> {
        (self.kind == DeviceKind::Camera).then(|| VideoDeviceInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            manager: self.shared.id,
        })
    }

    /// The microphone as the manager lists it (`None` for a camera).
    pub fn microphone(&self) -> Option<AudioDeviceInfo> {
        (self.kind == DeviceKind::Microphone).then(|| AudioDeviceInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            manager: self.shared.id,
        })
    }

    /// From now on the device fails with `failure` (and stops if a call is using it).
    pub fn fail(&self, failure: DeviceFailure) {
        self.set(Some(failure));
    }

    /// The device works again (a call that stopped using it does not take it back by itself).
    pub fn recover(&self) {
        self.set(None);
    }

    fn set(&self, failure: Option<DeviceFailure>) {
        self.shared.change(|devices| {
            if let Some(device) = devices.plugged.get_mut(&self.id) {
                device.failure = failure;
            }
        });
    }

    /// Unplugs it: it leaves the manager's lists for good.
    pub fn unplug(&self) {
        self.shared.change(|devices| {
            devices.plugged.remove(&self.id);
        });
    }
}

/// A camera's video as a call sends it; [`LocalVideoStream::switch_source`] moves it to another
/// camera, in a call too. Cloning gives another handle to the same stream.
#[derive(Clone)]
pub struct LocalVideoStream {
    inner: Arc<StreamInner>,
}

pub(crate) struct StreamInner {
    manager: Arc<ManagerShared>,
    camera: Mutex<(String, String)>,
}

impl std::fmt::Debug for LocalVideoStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalVideoStream")
            .field("camera", &self.camera_id())
            .finish()
    }
}

impl PartialEq for LocalVideoStream {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl LocalVideoStream {
    /// The video of `camera`, one of `devices`' cameras. 400/43004 for a camera another manager
    /// listed.
    pub fn new(devices: &DeviceManager, camera: &VideoDeviceInfo) -> Result<Self, CallingError> {
        if !devices.shared.is_own_camera(camera) {
            return Err(CallingError::new(&registry::SWITCH_CAMERA_INVALID_INPUT)
                .with_context("LocalVideoStream::new: a camera of this DeviceManager"));
        }
        Ok(Self::of(
            devices.shared(),
            camera.id.clone(),
            camera.name.clone(),
        ))
    }

    pub(crate) fn of(manager: Arc<ManagerShared>, id: String, name: String) -> Self {
        LocalVideoStream {
            inner: Arc::new(StreamInner {
                manager,
                camera: Mutex::new((id, name)),
            }),
        }
    }

    /// The id of the camera it films.
    pub fn camera_id(&self) -> String {
        self.camera().0
    }

    pub(crate) fn camera(&self) -> (String, String) {
        self.inner
            .camera
            .lock()
            .map(|c| c.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    pub(crate) fn manager(&self) -> &Arc<ManagerShared> {
        &self.inner.manager
    }

    /// Films with `camera` from now on. 400/43004 for a camera of another manager, 400/43005 for
    /// the camera already in use; the new camera's own state otherwise (412/43019 unplugged,
    /// 412/43000 in use, 403/43001 refused), the stream then staying on its camera.
    pub fn switch_source(&self, camera: &VideoDeviceInfo) -> Result<(), CallingError> {
        if !self.inner.manager.is_own_camera(camera) {
            return Err(CallingError::new(&registry::SWITCH_CAMERA_INVALID_INPUT)
                .with_context("switch_source: a camera listed by this stream's DeviceManager"));
        }
        let (current, _) = self.camera();
        if current == camera.id {
            return Err(CallingError::new(&registry::SWITCH_CAMERA_SAME_DEVICE)
                .with_context(format!("camera {}", camera.name)));
        }
        self.inner.manager.open(DeviceKind::Camera, &camera.id)?;
        if let Ok(mut slot) = self.inner.camera.lock() {
            *slot = (camera.id.clone(), camera.name.clone());
        }
        // Calls sending this stream pick the new camera up on their next frame; the version bump
        // makes them ask for a keyframe, as a new camera's encoder starts with one.
        self.inner.manager.changes.send_modify(|v| *v += 1);
        Ok(())
    }
}
