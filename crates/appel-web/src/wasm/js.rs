//! Small bridges to JavaScript: the locale, error objects, timers, JSON and event handlers.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use appel_codes::{CallingError, Locale};
use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;

thread_local! {
    static LOCALE: Cell<Locale> = const { Cell::new(Locale::En) };
}

/// The language of error messages.
pub fn locale() -> Locale {
    LOCALE.with(Cell::get)
}

/// Changes the language of error messages.
pub fn set_locale(locale: Locale) {
    LOCALE.with(|cell| cell.set(locale));
}

/// A JSON value as a JavaScript value.
pub fn to_js(value: &serde_json::Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).unwrap_or(JsValue::NULL)
}

/// A JavaScript value as JSON (`null` for what JSON cannot hold).
pub fn from_js(value: &JsValue) -> serde_json::Value {
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|text| text.as_string())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// The object a rejected promise carries: a JavaScript `Error` (it has a stack) with the entry's
/// members.
pub fn error_js(error: &CallingError) -> JsValue {
    let members = to_js(&crate::errors::error_object(error, locale()));
    let object: Object = js_sys::Error::new(error.message(locale())).into();
    Object::assign(&object, &Object::from(members)).into()
}

/// Reads a member of an options object.
pub fn member(object: &JsValue, name: &str) -> JsValue {
    if object.is_object() {
        Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// Sets a member of an object (objects built here always accept it).
pub fn set(object: &JsValue, name: &str, value: &JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(name), value);
}

/// Runs `f` after `ms` milliseconds; answers the timer handle.
pub fn after(ms: i32, f: impl FnOnce() + 'static) -> i32 {
    let callback = Closure::once_into_js(f);
    web_sys::window()
        .and_then(|w| {
            w.set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), ms)
                .ok()
        })
        .unwrap_or(0)
}

/// Cancels a timer started by [`after`] that has not run yet.
pub fn cancel(handle: i32) {
    if let Some(window) = web_sys::window() {
        window.clear_timeout_with_handle(handle);
    }
}

/// A JavaScript callback taking one argument, owned by the garbage collector.
pub fn callback(f: impl FnMut(JsValue) + 'static) -> Function {
    Closure::<dyn FnMut(JsValue)>::new(f)
        .into_js_value()
        .unchecked_into()
}

/// Handlers registered with `on(event, handler)`.
#[derive(Default)]
pub struct Emitter {
    handlers: RefCell<HashMap<String, Vec<Function>>>,
}

impl Emitter {
    /// Registers a handler.
    pub fn on(&self, event: &str, handler: Function) {
        self.handlers
            .borrow_mut()
            .entry(event.to_string())
            .or_default()
            .push(handler);
    }

    /// Removes a handler registered before.
    pub fn off(&self, event: &str, handler: &Function) {
        if let Some(list) = self.handlers.borrow_mut().get_mut(event) {
            list.retain(|h| h != handler);
        }
    }

    /// Calls every handler of `event` with `argument`; a throwing handler does not stop the others.
    pub fn emit(&self, event: &str, argument: &JsValue) {
        let list = self
            .handlers
            .borrow()
            .get(event)
            .cloned()
            .unwrap_or_default();
        for handler in list {
            if let Err(thrown) = handler.call1(&JsValue::UNDEFINED, argument) {
                web_sys::console::error_2(&JsValue::from_str(event), &thrown);
            }
        }
    }
}

/// A promise with its settle functions, for answers that arrive through frames.
pub fn deferred() -> (js_sys::Promise, Function, Function) {
    let mut settle = None;
    let promise = js_sys::Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    let (resolve, reject) =
        settle.unwrap_or_else(|| (Function::new_no_args(""), Function::new_no_args("")));
    (promise, resolve, reject)
}
