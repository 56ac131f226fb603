use super::action::{apply, Context, ResolveHow, SnoozeSpec, StatusChange};
use super::*;

const T0: u64 = 1_800_000_000_000;
const MIN: u64 = 60_000;

fn ev(id: &str, at: u64, release: &str, first_seen: Option<u64>) -> EventFacts {
    EventFacts {
        event_id: id.into(),
        event_ms: at,
        release: ReleaseFact {
            name: release.into(),
            first_seen_ms: first_seen,
        },
    }
}

fn counts(events: u64) -> Counts {
    Counts {
        events,
        users: 1,
        this_hour: 1,
        ceiling: escalation::ESCALATION_FLOOR,
        ..Counts::default()
    }
}

fn ctx(at: u64, events: u64, latest: Option<&str>) -> Context {
    Context {
        now_ms: at,
        actor: "alice".into(),
        events,
        users: 1,
        latest_release: latest.map(Into::into),
    }
}

fn resolved(how: ResolveHow, at: u64, latest: Option<&str>) -> IssueState {
    apply(
        &IssueState::new_issue(),
        &StatusChange::Resolve(how),
        &ctx(at, 5, latest),
    )
    .unwrap()
    .0
}

#[test]
fn a_first_event_opens_a_new_issue() {
    let out = on_event(
        &IssueState::new_issue(),
        true,
        &ev("e1", T0, "", None),
        &counts(1),
    );
    assert_eq!(out.triggers, vec![Trigger::NewIssue]);
    assert_eq!(out.activity[0].kind, "first_seen");
    assert_eq!(out.activity[0].event_id.as_deref(), Some("e1"));
    let (_, sub) = out.state.shown(T0, T0 + NEW_FOR_MS - 1);
    assert_eq!(sub, Some(Substatus::New));
    let (_, sub) = out.state.shown(T0, T0 + NEW_FOR_MS);
    assert_eq!(
        sub,
        Some(Substatus::Ongoing),
        "new for 7 days, then ongoing"
    );
}

#[test]
fn snooze_until_ten_more_wakes_on_the_tenth() {
    let (s, _) = apply(
        &IssueState::new_issue(),
        &StatusChange::Ignore(SnoozeSpec::Count(10, None)),
        &ctx(T0, 41, None),
    )
    .unwrap();
    for n in 1..=9 {
        let out = on_event(&s, false, &ev("e", T0 + n * MIN, "", None), &counts(41 + n));
        assert!(
            out.triggers.is_empty(),
            "event {n} after the snooze stays silent"
        );
        assert_eq!(out.state.status, Status::Ignored);
    }
    let out = on_event(&s, false, &ev("e10", T0 + 10 * MIN, "", None), &counts(51));
    assert_eq!(out.state.status, Status::Unresolved);
    assert_eq!(out.state.substatus, Substatus::Ongoing);
    assert!(
        matches!(&out.triggers[..], [Trigger::SnoozeWoke { why }] if why.starts_with("10 more events")),
        "{:?}",
        out.triggers
    );
    assert_eq!(out.activity[0].kind, "snooze_woke");
    assert_eq!(out.activity[0].actor, SYSTEM_ACTOR);
}

#[test]
fn snoozes_by_window_users_time_and_escalation() {
    let snooze = |spec| {
        apply(
            &IssueState::new_issue(),
            &StatusChange::Ignore(spec),
            &ctx(T0, 100, None),
        )
        .unwrap()
        .0
    };
    let at = T0 + 30 * MIN;
    let cases: Vec<(SnoozeSpec, Counts, bool, &str)> = vec![
        (
            SnoozeSpec::Count(5, Some(60)),
            Counts {
                events_in_window: Some(4),
                ..counts(500)
            },
            false,
            "4 in the window of 5",
        ),
        (
            SnoozeSpec::Count(5, Some(60)),
            Counts {
                events_in_window: Some(5),
                ..counts(105)
            },
            true,
            "5 in the window",
        ),
        (
            SnoozeSpec::Users(3, None),
            Counts {
                users: 3,
                ..counts(200)
            },
            false,
            "baseline 1 user: 2 more",
        ),
        (
            SnoozeSpec::Users(3, None),
            Counts {
                users: 4,
                ..counts(200)
            },
            true,
            "3 more users",
        ),
        (
            SnoozeSpec::Users(2, Some(10)),
            Counts {
                users_in_window: Some(2),
                ..counts(200)
            },
            true,
            "users in a window",
        ),
        (
            SnoozeSpec::Duration(60),
            counts(101),
            false,
            "an hour has not passed",
        ),
        (SnoozeSpec::Duration(20), counts(101), true, "20 min passed"),
        (
            SnoozeSpec::Until(T0 + 31 * MIN),
            counts(101),
            false,
            "not yet",
        ),
        (
            SnoozeSpec::UntilEscalating,
            Counts {
                this_hour: 10,
                ..counts(300)
            },
            false,
            "at the ceiling",
        ),
        (
            SnoozeSpec::UntilEscalating,
            Counts {
                this_hour: 11,
                ..counts(300)
            },
            true,
            "above the ceiling",
        ),
        (
            SnoozeSpec::Forever,
            Counts {
                this_hour: 1000,
                ..counts(100_000)
            },
            false,
            "forever",
        ),
    ];
    for (spec, c, wakes, why) in cases {
        let s = snooze(spec.clone());
        let out = on_event(&s, false, &ev("e", at, "", None), &c);
        assert_eq!(out.state.status == Status::Unresolved, wakes, "{why}");
        assert_eq!(out.triggers.len(), usize::from(wakes), "{why}");
    }
    let woke = on_event(
        &snooze(SnoozeSpec::UntilEscalating),
        false,
        &ev("e", at, "", None),
        &Counts {
            this_hour: 11,
            ..counts(300)
        },
    );
    assert_eq!(
        woke.state.substatus,
        Substatus::Escalating,
        "woke by escalation shows escalating"
    );
}

#[test]
fn a_window_starts_at_the_snooze_or_the_window() {
    let w = Window {
        snoozed_at_ms: T0,
        minutes: 60,
    };
    assert_eq!(w.start(T0 + 10 * MIN), T0, "counted from the snooze");
    assert_eq!(w.start(T0 + 90 * MIN), T0 + 30 * MIN, "the last hour");
    let (s, _) = apply(
        &IssueState::new_issue(),
        &StatusChange::Ignore(SnoozeSpec::Count(3, Some(60))),
        &ctx(T0, 1, None),
    )
    .unwrap();
    assert_eq!(s.needs().events_window, Some(w));
}

#[test]
fn time_snoozes_wake_without_an_event() {
    let (s, _) = apply(
        &IssueState::new_issue(),
        &StatusChange::Ignore(SnoozeSpec::Duration(60)),
        &ctx(T0, 1, None),
    )
    .unwrap();
    assert!(wake_on_time(&s, T0 + 59 * MIN).is_none());
    let (next, act, trig) = wake_on_time(&s, T0 + 60 * MIN).unwrap();
    assert_eq!(next.status, Status::Unresolved);
    assert_eq!(act.event_id, None);
    assert!(matches!(trig, Trigger::SnoozeWoke { .. }));
    assert!(
        wake_on_time(&IssueState::new_issue(), T0).is_none(),
        "not snoozed"
    );
}

#[test]
fn regressions() {
    let now_r = resolved(ResolveHow::Now, T0, Some("1.4.0"));
    let next_r = resolved(ResolveHow::InNextRelease, T0, Some("1.4.0"));
    let in_r = resolved(ResolveHow::InRelease("1.4.0".into()), T0, None);
    let sha_r = resolved(ResolveHow::InRelease("abc".into()), T0, None);
    let later = T0 + 5 * MIN;
    let base = |name: &str, seen| {
        Some(ReleaseFact {
            name: name.into(),
            first_seen_ms: seen,
        })
    };
    let cases: Vec<(
        &IssueState,
        EventFacts,
        Option<ReleaseFact>,
        Option<&str>,
        &str,
    )> = vec![
        (
            &now_r,
            ev("a", later, "", None),
            None,
            Some("regressed (resolved now)"),
            "resolved now: any later event",
        ),
        (
            &now_r,
            ev("a", T0 - 1, "", None),
            None,
            None,
            "older than the resolution",
        ),
        (
            &next_r,
            ev("a", later, "1.4.0", Some(T0 - MIN)),
            base("1.4.0", Some(T0 - MIN)),
            None,
            "same release as at resolve time",
        ),
        (
            &next_r,
            ev("a", later, "1.3.9", Some(1)),
            base("1.4.0", Some(T0 - MIN)),
            None,
            "an older release",
        ),
        (
            &next_r,
            ev("a", later, "1.4.1", Some(later)),
            base("1.4.0", Some(T0 - MIN)),
            Some("regressed in 1.4.1 (fix claimed in the release after 1.4.0)"),
            "a newer release",
        ),
        (
            &next_r,
            ev("a", later, "", None),
            base("1.4.0", Some(T0 - MIN)),
            None,
            "no release never regresses",
        ),
        (
            &in_r,
            ev("a", later, "1.4.2", Some(later)),
            base("1.4.0", None),
            Some("regressed in 1.4.2 (fix claimed in 1.4.0)"),
            "newer than the fix",
        ),
        (
            &in_r,
            ev("a", later, "1.4.0", Some(later)),
            base("1.4.0", Some(later)),
            None,
            "the fix release itself",
        ),
        (
            &in_r,
            ev("a", later, "1.3.0", Some(later)),
            base("1.4.0", None),
            None,
            "older by semver though first seen later",
        ),
        (
            &sha_r,
            ev("a", later, "def", Some(later)),
            base("abc", Some(T0 - MIN)),
            Some("regressed in def (fix claimed in abc)"),
            "shas: first appearance",
        ),
        (
            &sha_r,
            ev("a", later, "old", Some(T0 - 9 * MIN)),
            base("abc", Some(T0 - MIN)),
            None,
            "an older sha",
        ),
        (
            &sha_r,
            ev("a", later, "def", Some(later)),
            base("abc", None),
            Some("regressed in def (fix claimed in abc)"),
            "fix never seen here: appeared after the resolution",
        ),
        (
            &sha_r,
            ev("a", later, "def", Some(T0 - MIN)),
            base("abc", None),
            None,
            "fix never seen here, event's release older than the resolution",
        ),
    ];
    for (state, event, baseline, want, why) in cases {
        let c = Counts {
            baseline,
            ..counts(9)
        };
        let out = on_event(state, false, &event, &c);
        match want {
            Some(text) => {
                assert_eq!(out.state.status, Status::Unresolved, "{why}");
                assert_eq!(out.state.substatus, Substatus::Regressed, "{why}");
                assert_eq!(out.activity[0].detail, text, "{why}");
                assert!(
                    matches!(out.triggers[..], [Trigger::Regressed { .. }]),
                    "{why}"
                );
            }
            None => {
                assert_eq!(out.state.status, Status::Resolved, "{why}");
                assert!(out.triggers.is_empty(), "{why}");
            }
        }
    }
    assert_eq!(next_r.needs().baseline_release.as_deref(), Some("1.4.0"));
    assert_eq!(now_r.needs().baseline_release, None);
}

#[test]
fn escalation_alerts_once_and_ends() {
    let s = IssueState::new_issue();
    let hot = Counts {
        this_hour: 50,
        ceiling: 20,
        ..counts(500)
    };
    let out = on_event(&s, false, &ev("e", T0, "", None), &hot);
    assert_eq!(out.state.substatus, Substatus::Escalating);
    assert_eq!(
        out.triggers,
        vec![Trigger::Escalating {
            this_hour: 50,
            ceiling: 20
        }]
    );
    let again = on_event(
        &out.state,
        false,
        &ev("e", T0, "", None),
        &Counts {
            this_hour: 51,
            ..hot.clone()
        },
    );
    assert!(
        again.triggers.is_empty(),
        "still escalating: no second alert"
    );
    let calm = on_event(&again.state, false, &ev("e", T0, "", None), &counts(600));
    assert_eq!(calm.state.substatus, Substatus::Ongoing);
}

#[test]
fn columns_round_trip_and_damage_reads_as_unresolved() {
    let (s, _) = apply(
        &IssueState::new_issue(),
        &StatusChange::Ignore(SnoozeSpec::Users(3, Some(60))),
        &ctx(T0, 9, None),
    )
    .unwrap();
    let back = IssueState::from_columns(s.status.as_str(), s.substatus.as_str(), &s.details_json());
    assert_eq!(back, s);
    assert_eq!(back.status_details()["ignoreUserCount"], 3);
    let r = resolved(ResolveHow::InRelease("2.0".into()), T0, None);
    assert_eq!(r.status_details(), serde_json::json!({"inRelease": "2.0"}));
    let damaged = IssueState::from_columns("exploded", "??", "{not json");
    assert_eq!(
        (damaged.status, damaged.substatus),
        (Status::Unresolved, Substatus::Ongoing)
    );
}

#[test]
fn user_keys() {
    let cases = [
        (
            serde_json::json!({"user": {"id": 42, "email": "a@b.c"}}),
            Some("id:42"),
            "id first",
        ),
        (
            serde_json::json!({"user": {"email": " a@b.c "}}),
            Some("email:a@b.c"),
            "email",
        ),
        (
            serde_json::json!({"user": {"ip_address": "{{auto}}", "username": "zed"}}),
            Some("username:zed"),
            "auto ip skipped",
        ),
        (
            serde_json::json!({"user": {"ip_address": "1.2.3.4"}}),
            Some("ip_address:1.2.3.4"),
            "ip",
        ),
        (serde_json::json!({"user": {"id": ""}}), None, "empty"),
        (serde_json::json!({}), None, "no user"),
    ];
    for (payload, want, why) in cases {
        assert_eq!(user_key(&payload).as_deref(), want, "{why}");
    }
}

#[test]
fn a_run_judges_a_batch_as_if_stored_one_by_one() {
    // A new issue's three events in one batch: new once, then counted on.
    let mut run = IssueRun::new(IssueState::new_issue(), 0);
    let first = run.next(&ev("e1", T0, "", None), counts(999));
    assert_eq!(first.triggers, vec![Trigger::NewIssue]);
    for id in ["e2", "e3"] {
        let out = run.next(&ev(id, T0 + MIN, "", None), counts(999));
        assert!(out.triggers.is_empty(), "{id}: {:?}", out.triggers);
        assert!(out.activity.is_empty(), "{id}");
    }
    assert_eq!(run.events(), 3, "the run counts, not the caller");

    // A resolved issue's two events in one batch: it regresses on the first only, and the
    // second is judged against the regressed state.
    let mut run = IssueRun::new(resolved(ResolveHow::Now, T0, None), 5);
    let a = run.next(&ev("r1", T0 + MIN, "", None), counts(0));
    assert!(
        matches!(a.triggers.as_slice(), [Trigger::Regressed { .. }]),
        "{:?}",
        a.triggers
    );
    assert_eq!(run.state().status, Status::Unresolved);
    let b = run.next(&ev("r2", T0 + 2 * MIN, "", None), counts(0));
    assert!(b.triggers.is_empty(), "{:?}", b.triggers);
    assert_eq!(run.events(), 7);

    // The same as judging each event with on_event in turn.
    let s0 = resolved(ResolveHow::Now, T0, None);
    let one = on_event(&s0, false, &ev("r1", T0 + MIN, "", None), &counts(6));
    let two = on_event(
        &one.state,
        false,
        &ev("r2", T0 + 2 * MIN, "", None),
        &counts(7),
    );
    assert_eq!((a, b), (one, two));
}

#[test]
fn a_run_wakes_a_count_snooze_once() {
    let (s, _) = apply(
        &IssueState::new_issue(),
        &StatusChange::Ignore(SnoozeSpec::Count(2, None)),
        &ctx(T0, 10, None),
    )
    .unwrap();
    let mut run = IssueRun::new(s, 10);
    let woke: Vec<usize> = (0..4)
        .map(|_| run.next(&ev("e", T0 + MIN, "", None), counts(0)))
        .enumerate()
        .filter(|(_, o)| {
            o.triggers
                .iter()
                .any(|t| matches!(t, Trigger::SnoozeWoke { .. }))
        })
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        woke,
        vec![1],
        "the second event after the snooze wakes it, once"
    );
}
