// Runs right after the SDK's <script> tag, while its wasm is still loading: the SDK's stub must
// buffer this uncaught error and send it once it is ready.
'use strict';

throw new Error('early error before the SDK loaded');
