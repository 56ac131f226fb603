//! JavaScript stack-string parsing (Chrome, Firefox, Safari). Owned by the SDK work.
