//! Webhook guard rules (issue 3): route config, hold decisions, retry schedule, sender hints,
//! alert de-duplication. Placeholder until the guard lands.
