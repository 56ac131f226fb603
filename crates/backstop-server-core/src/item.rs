//! Envelope item types and what Backstop does with each.

/// An envelope item's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemType {
    /// An error or message event: stored.
    Event,
    /// A performance transaction: counted (stored only when configured).
    Transaction,
    /// A standalone span: counted.
    Span,
    /// One session update: counted per release.
    Session,
    /// Pre-aggregated sessions: counted per release.
    Sessions,
    /// What the SDK itself dropped: added to the drop stats.
    ClientReport,
    /// A file attached to an event: kept in R2.
    Attachment,
    /// User feedback (new style: an event with `contexts.feedback`): stored.
    Feedback,
    /// User feedback (legacy `user_report`): stored as feedback.
    UserReport,
    /// Anything else (replays, logs, profiles, check-ins, future types): acknowledged and counted
    /// as `unsupported`, never an error.
    Unsupported(String),
}

impl ItemType {
    /// Classifies the `type` header.
    pub fn parse(ty: &str) -> Self {
        match ty {
            "event" => Self::Event,
            "transaction" => Self::Transaction,
            "span" => Self::Span,
            "session" => Self::Session,
            "sessions" => Self::Sessions,
            "client_report" => Self::ClientReport,
            "attachment" => Self::Attachment,
            "feedback" => Self::Feedback,
            "user_report" => Self::UserReport,
            other => Self::Unsupported(other.chars().take(32).collect()),
        }
    }

    /// Name used in the per-minute item counters (`item:<name>`).
    pub fn stat_name(&self) -> &str {
        match self {
            Self::Event => "event",
            Self::Transaction => "transaction",
            Self::Span => "span",
            Self::Session => "session",
            Self::Sessions => "sessions",
            Self::ClientReport => "client_report",
            Self::Attachment => "attachment",
            Self::Feedback | Self::UserReport => "feedback",
            Self::Unsupported(_) => "unsupported",
        }
    }

    /// Whether the payload is an event-shaped JSON object bound by the event size limit.
    pub fn is_event_like(&self) -> bool {
        matches!(self, Self::Event | Self::Transaction | Self::Feedback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_item_types() {
        let cases = [
            ("event", "event", true),
            ("transaction", "transaction", true),
            ("feedback", "feedback", true),
            ("user_report", "feedback", false),
            ("client_report", "client_report", false),
            ("replay_recording", "unsupported", false),
            ("", "unsupported", false),
        ];
        for (ty, stat, event_like) in cases {
            let t = ItemType::parse(ty);
            assert_eq!(
                (t.stat_name(), t.is_event_like()),
                (stat, event_like),
                "{ty}"
            );
        }
    }
}
