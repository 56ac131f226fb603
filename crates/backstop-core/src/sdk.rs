//! Rules the browser SDK applies (send budget, which fetch failures to report). Owned by the SDK work.
