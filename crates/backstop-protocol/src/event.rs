//! The event shape Backstop's SDK writes (a subset of Sentry's event schema).
//!
//! The worker does not deserialize incoming events into these types: it reads them leniently in
//! `backstop-core` because other SDKs send variants (message as object, exception as list...).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// One error event.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct Event {
    /// 32 lowercase hex characters.
    pub event_id: String,
    /// Seconds since the Unix epoch.
    pub timestamp: f64,
    /// Always `javascript` for the browser SDK.
    pub platform: String,
    /// `fatal`, `error`, `warning`, `info` or `debug`.
    pub level: String,
    /// A plain message, for events that are not exceptions.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub message: Option<String>,
    /// Exceptions, innermost last.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub exception: Option<ExceptionList>,
    /// The page the event happened on.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub request: Option<RequestInfo>,
    /// Release from the SDK options.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub release: Option<String>,
    /// Environment from the SDK options.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub environment: Option<String>,
    /// Free-form tags.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "BTreeMap::is_empty"))]
    pub tags: BTreeMap<String, String>,
    /// The SDK that built the event.
    pub sdk: SdkInfo,
}

/// `exception: {values: [...]}`.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct ExceptionList {
    /// The exceptions.
    pub values: Vec<Exception>,
}

/// One exception.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct Exception {
    /// Error class name, e.g. `TypeError`.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub ty: String,
    /// Error message.
    pub value: String,
    /// How it was caught.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub mechanism: Option<Mechanism>,
    /// Parsed stack.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub stacktrace: Option<Stacktrace>,
}

/// How an exception was captured.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct Mechanism {
    /// `onerror`, `onunhandledrejection`, `fetch`, `generic`...
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub ty: String,
    /// False for errors nobody caught.
    pub handled: bool,
}

/// Stack frames, oldest first (as Sentry sends them).
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct Stacktrace {
    /// The frames.
    pub frames: Vec<Frame>,
}

/// One stack frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct Frame {
    /// Function name, if known.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub function: Option<String>,
    /// Script URL.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub filename: Option<String>,
    /// Same as filename for browser frames.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub abs_path: Option<String>,
    /// 1-based line.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub lineno: Option<u32>,
    /// 1-based column.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub colno: Option<u32>,
    /// Whether the frame is the app's own code.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub in_app: Option<bool>,
}

/// The page request.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct RequestInfo {
    /// Page URL.
    pub url: String,
    /// Selected headers (the SDK sends `User-Agent`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "BTreeMap::is_empty"))]
    pub headers: BTreeMap<String, String>,
}

/// `sdk: {name, version}`.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct SdkInfo {
    /// SDK name.
    pub name: String,
    /// SDK version.
    pub version: String,
}
