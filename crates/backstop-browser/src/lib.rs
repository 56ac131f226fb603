//! Backstop's browser SDK (work in progress).
