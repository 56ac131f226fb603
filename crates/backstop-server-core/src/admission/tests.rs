use super::*;
use crate::config::{RawConfig, DEV_ADMIN_TOKEN, DEV_PUBLIC_KEY};

const OTHER_KEY: &str = "e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0";

/// Project 1 without a quota, project 2 with a quota of 5.
fn config() -> Config {
    Config::from_raw(&RawConfig {
        env: Some("local".into()),
        admin_token: Some(DEV_ADMIN_TOKEN.into()),
        projects_json: Some(format!(
            r#"{{"1":{{"public_key":"{DEV_PUBLIC_KEY}"}},"2":{{"public_key":"{OTHER_KEY}","quota":5}}}}"#
        )),
        limits_json: None,
        ingest_json: None,
        faults_json: None,
        retention_json: None,
        upload_tokens_json: None,
    })
    .unwrap()
}

fn ids() -> impl FnMut() -> String {
    let mut n = 0u32;
    move || {
        n += 1;
        format!("{n:032x}")
    }
}

fn envelope(dsn_project: &str, key: &str) -> Vec<u8> {
    format!(
        "{{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"dsn\":\"http://{key}@h/{dsn_project}\"}}\n\
         {{\"type\":\"event\"}}\n{{\"message\":\"boom\"}}\n"
    )
    .into_bytes()
}

fn allowed() -> RateDecision {
    RateDecision::Allowed { remaining: 3 }
}

/// Drives an admission the way the worker does: steps until `ReadAll` with the body arriving in
/// `chunk`-byte pieces, answering every token with `answer`; returns the tokens asked and how
/// many bytes had been read when the body was judged readable.
fn drive(
    adm: &mut Admission<'_>,
    body: &[u8],
    chunk: usize,
    answer: RateDecision,
) -> Result<(Vec<TokenRequest>, usize), IngestError> {
    let mut read = 0;
    let mut tokens = Vec::new();
    loop {
        match adm.next(&body[..read], read == body.len())? {
            Step::Read => read = (read + chunk).min(body.len()),
            Step::Token(t) => {
                tokens.push(t);
                adm.granted(answer)?;
            }
            Step::ReadAll => return Ok((tokens, read)),
        }
    }
}

#[test]
fn a_url_key_is_authenticated_and_limited_before_any_byte_is_read() {
    let c = config();
    let head = RequestHead {
        url_project: Some("1"),
        query_key: Some(DEV_PUBLIC_KEY),
        ..Default::default()
    };
    let mut adm = Admission::start(&c, Endpoint::Envelope, head).unwrap();
    let body = envelope("1", DEV_PUBLIC_KEY);
    let (tokens, read) = drive(&mut adm, &body, 8, allowed()).unwrap();
    assert_eq!(read, 0, "nothing read before the limiter answered");
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].project, "1");
    assert_eq!(tokens[0].key, DEV_PUBLIC_KEY);
    assert_eq!(
        (tokens[0].limiter.events, tokens[0].limiter.quota),
        (0, None)
    );
    let mut framed = adm.frame(&body, 1_000, &mut ids()).unwrap();
    assert!(framed.token().is_none(), "asked once per request");
    assert_eq!(framed.plan.events.len(), 1);
    assert!(framed.granted(allowed()).is_ok());
}

#[test]
fn a_wrong_or_missing_url_key_is_refused_at_the_head() {
    let c = config();
    let wrong = RequestHead {
        url_project: Some("1"),
        query_key: Some(OTHER_KEY),
        ..Default::default()
    };
    let mut adm = Admission::start(&c, Endpoint::Envelope, wrong).unwrap();
    assert_eq!(adm.next(b"", false), Err(IngestError::InvalidKey));

    let conflicting = RequestHead {
        url_project: Some("1"),
        query_key: Some(DEV_PUBLIC_KEY),
        auth_header: Some(&format!("Sentry sentry_key={OTHER_KEY}, sentry_version=7")),
        ..Default::default()
    };
    let mut adm = Admission::start(&c, Endpoint::Envelope, conflicting).unwrap();
    assert_eq!(adm.next(b"", false), Err(IngestError::ConflictingAuth));

    let unknown = RequestHead {
        url_project: Some("77"),
        ..Default::default()
    };
    let mut adm = Admission::start(&c, Endpoint::Envelope, unknown).unwrap();
    assert_eq!(
        adm.next(b"", false),
        Err(IngestError::UnknownProject("77".into()))
    );

    // /store/ has no envelope header to carry a key.
    let store = RequestHead {
        url_project: Some("1"),
        ..Default::default()
    };
    let mut adm = Admission::start(&c, Endpoint::Store, store).unwrap();
    assert_eq!(adm.next(b"", false), Err(IngestError::MissingAuth));
}

#[test]
fn sizes_and_encodings_are_judged_from_the_head() {
    let c = config();
    let too_long = (c.limits.max_envelope_bytes + 1).to_string();
    let head = RequestHead {
        url_project: Some("1"),
        content_length: Some(&too_long),
        ..Default::default()
    };
    assert!(matches!(
        Admission::start(&c, Endpoint::Envelope, head),
        Err(IngestError::TooLarge { .. })
    ));
    // The same length is within the envelope limit but over /store/'s.
    let store_over = (c.limits.max_event_bytes + 1).to_string();
    let head = RequestHead {
        url_project: Some("1"),
        content_length: Some(&store_over),
        ..Default::default()
    };
    assert!(Admission::start(&c, Endpoint::Envelope, head).is_ok());
    assert!(Admission::start(&c, Endpoint::Store, head).is_err());
    let head = RequestHead {
        url_project: Some("1"),
        content_encoding: Some("compress"),
        ..Default::default()
    };
    assert!(Admission::start(&c, Endpoint::Envelope, head).is_err());
}

#[test]
fn a_dsn_key_is_judged_as_soon_as_the_header_line_arrives() {
    let c = config();
    let head = RequestHead {
        url_project: Some("1"),
        ..Default::default()
    };
    let body = envelope("1", DEV_PUBLIC_KEY);
    let header_end = body.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut adm = Admission::start(&c, Endpoint::Envelope, head).unwrap();
    let (tokens, read) = drive(&mut adm, &body, 10, allowed()).unwrap();
    assert_eq!(tokens.len(), 1);
    assert!(
        read >= header_end && read < header_end + 10,
        "read {read} bytes, the header line ends at {header_end}"
    );
    assert!(adm.frame(&body, 1_000, &mut ids()).is_ok());

    // A wrong key in the header is refused before the rest is read.
    let bad = envelope("1", OTHER_KEY);
    let mut adm = Admission::start(&c, Endpoint::Envelope, head).unwrap();
    assert_eq!(
        drive(&mut adm, &bad, 10, allowed()).unwrap_err(),
        IngestError::InvalidKey
    );
    // A DSN for another project than the URL's.
    let other = envelope("2", DEV_PUBLIC_KEY);
    let mut adm = Admission::start(&c, Endpoint::Envelope, head).unwrap();
    assert_eq!(
        drive(&mut adm, &other, 10, allowed()).unwrap_err(),
        IngestError::DsnProjectMismatch
    );
}

#[test]
fn the_tunnel_learns_its_project_from_the_header() {
    let c = config();
    let mut adm = Admission::start(&c, Endpoint::Tunnel, RequestHead::default()).unwrap();
    assert_eq!(adm.project(), None);
    let body = envelope("1", DEV_PUBLIC_KEY);
    let (tokens, _) = drive(&mut adm, &body, 16, allowed()).unwrap();
    assert_eq!(adm.project(), Some("1"), "refusals are counted against it");
    assert_eq!(tokens[0].project, "1");
    let framed = adm.frame(&body, 1_000, &mut ids()).unwrap();
    assert_eq!(framed.project, "1");

    let mut adm = Admission::start(&c, Endpoint::Tunnel, RequestHead::default()).unwrap();
    let unknown = envelope("77", DEV_PUBLIC_KEY);
    assert_eq!(
        drive(&mut adm, &unknown, 16, allowed()).unwrap_err(),
        IngestError::UnknownProject("77".into())
    );
    assert_eq!(adm.project(), Some("77"));
}

#[test]
fn a_body_without_a_header_line_is_left_to_the_full_parse() {
    let c = config();
    let head = RequestHead {
        url_project: Some("1"),
        ..Default::default()
    };
    let mut adm = Admission::start(&c, Endpoint::Envelope, head).unwrap();
    let body = br#"{"dsn":"http://d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0@h/1"}"#;
    let (tokens, read) = drive(&mut adm, body, 7, allowed()).unwrap();
    assert_eq!((tokens.len(), read), (0, body.len()));
    // The full parse finds the key, so the token is asked after framing.
    let framed = adm.frame(body, 1_000, &mut ids()).unwrap();
    let token = framed.token().unwrap();
    assert_eq!(
        (token.project.as_str(), token.key.as_str()),
        ("1", DEV_PUBLIC_KEY)
    );
    assert_eq!(token.limiter.events, 0, "no event in it");
}

#[test]
fn a_quota_is_asked_once_the_events_are_known() {
    let c = config();
    let head = RequestHead {
        url_project: Some("2"),
        query_key: Some(OTHER_KEY),
        ..Default::default()
    };
    let mut adm = Admission::start(&c, Endpoint::Envelope, head).unwrap();
    let body = envelope("2", OTHER_KEY);
    let (tokens, _) = drive(&mut adm, &body, 8, allowed()).unwrap();
    assert!(tokens.is_empty(), "not before the body is planned");
    let mut framed = adm.frame(&body, 1_000, &mut ids()).unwrap();
    let token = framed.token().unwrap().clone();
    assert_eq!((token.limiter.quota, token.limiter.events), (Some(5), 1));
    let refused = framed.granted(RateDecision::QuotaExceeded {
        limit: 5,
        retry_after_secs: 60,
    });
    assert!(matches!(
        refused,
        Err(IngestError::QuotaExceeded { limit: 5, .. })
    ));
}

#[test]
fn a_limited_key_is_refused_with_its_retry_after() {
    let c = config();
    let head = RequestHead {
        url_project: Some("1"),
        query_key: Some(DEV_PUBLIC_KEY),
        ..Default::default()
    };
    let mut adm = Admission::start(&c, Endpoint::Envelope, head).unwrap();
    let limited = RateDecision::Limited {
        retry_after_secs: 7,
    };
    assert_eq!(
        drive(&mut adm, b"", 1, limited).unwrap_err(),
        IngestError::RateLimited {
            retry_after_secs: 7
        }
    );
}

#[test]
fn asking_again_before_the_answer_repeats_the_question() {
    let c = config();
    let head = RequestHead {
        url_project: Some("1"),
        query_key: Some(DEV_PUBLIC_KEY),
        ..Default::default()
    };
    let mut adm = Admission::start(&c, Endpoint::Envelope, head).unwrap();
    let first = adm.next(b"", false).unwrap();
    assert!(matches!(first, Step::Token(_)));
    assert_eq!(adm.next(b"", false).unwrap(), first);
    adm.granted(allowed()).unwrap();
    assert_eq!(adm.next(b"", false).unwrap(), Step::ReadAll);
}

#[test]
fn the_last_token_asks_clients_to_back_off() {
    let c = config();
    let head = RequestHead {
        url_project: Some("1"),
        query_key: Some(DEV_PUBLIC_KEY),
        ..Default::default()
    };
    let mut adm = Admission::start(&c, Endpoint::Envelope, head).unwrap();
    let body = envelope("1", DEV_PUBLIC_KEY);
    drive(&mut adm, &body, 8, RateDecision::Allowed { remaining: 0 }).unwrap();
    let framed = adm.frame(&body, 1_000, &mut ids()).unwrap();
    assert!(framed.preemptive_retry_after().is_some());
}
