//! Events sent by crawlers, link previewers and uptime robots running the page's JavaScript.
//!
//! A `User-Agent` is a crawler when the parser says so, when it names a known crawler, or —
//! only when it was not recognised as a real browser — when one of its words ends in `bot`,
//! `bots`, `spider` or `crawler`. The last rule is kept off real browsers because phone models
//! such as `CUBOT X30` would trip it.
//!
//! The names are public data from Sentry Relay's `relay-filter/src/web_crawlers.rs`, narrowed
//! where Relay's pattern also hits real users: `Slack` (the Slack desktop app's own UA says
//! `Slack/4…`) becomes `Slackbot` and `Slack-ImgProxy`, `facebook` (the Facebook in-app browser)
//! becomes `facebookexternalhit`/`facebookcatalog`, `Sogou` (the Sogou Explorer browser) becomes
//! `Sogou web spider`. `HeadlessChrome` is deliberately not a crawler: it is what end-to-end
//! tests, this project's included, drive.

use super::user_agent::Parsed;

/// Substrings (case-insensitive) naming crawlers.
const CRAWLER_NAMES: &[&str] = &[
    "mediapartners-google",
    "adsbot-google",
    "googlebot",
    "feedfetcher-google",
    "bingbot",
    "bingpreview",
    "baiduspider",
    // Yahoo.
    "slurp",
    "sogou web spider",
    "facebookexternalhit",
    "facebookcatalog",
    // Alexa.
    "ia_archiver",
    "slackbot",
    "slack-imgproxy",
    // Google's app indexer.
    "calypso appcrawler",
    "pingdom",
    "lyticsbot",
    "aws security scanner",
    "hubspot crawler",
    // Bytedance.
    "bytespider",
    "better uptime",
];

/// Substrings (case-insensitive) of crawlers that run the page for a person (Slack's link
/// unfurler), kept as Relay keeps them.
const ALLOWED: &[&str] = &["slackbot 1."];

/// Word endings of a generic robot, followed by `/`, a space, `;`, `)` or the end.
const GENERIC_ENDINGS: &[&str] = &["bot", "bots", "spider", "crawler"];

/// Whether the `User-Agent` (with its parse) is a crawler.
pub(crate) fn matches(user_agent: &str, parsed: &Parsed) -> bool {
    let lower = user_agent.to_lowercase();
    if ALLOWED.iter().any(|a| lower.contains(a)) {
        return false;
    }
    parsed.is_crawler()
        || CRAWLER_NAMES.iter().any(|n| lower.contains(n))
        || (!parsed.is_browser() && has_generic_word(&lower))
}

fn has_generic_word(lower: &str) -> bool {
    lower
        .split(['/', ' ', ';', ')', '(', ',', '+'])
        .any(|word| GENERIC_ENDINGS.iter().any(|e| word.ends_with(e)))
}

#[cfg(test)]
mod tests {
    use super::super::user_agent::parse;
    use super::*;

    fn is_crawler(ua: &str) -> bool {
        matches(ua, &parse(ua))
    }

    #[test]
    fn crawlers_are_recognised() {
        let cases = [
            ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"),
            ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bingbot"),
            ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "mobile Googlebot dressed as Chrome"),
            ("AdsBot-Google (+http://www.google.com/adsbot.html)", "AdsBot"),
            ("Mediapartners-Google", "AdSense"),
            ("FeedFetcher-Google; (+http://www.google.com/feedfetcher.html)", "FeedFetcher"),
            ("Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", "Baidu"),
            ("Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)", "Yahoo"),
            ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "Facebook previews"),
            ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "Slack link expander"),
            ("Slack-ImgProxy 0.19 (+https://api.slack.com/robots)", "Slack image proxy"),
            ("Twitterbot/1.0", "generic bot word"),
            ("Mozilla/5.0 (compatible; HubSpot Crawler; web-crawlers@hubspot.com)", "HubSpot"),
            ("Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)", "Bytedance"),
            ("Better Uptime Bot Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/74.0.3729.169 Safari/537.36", "uptime robot dressed as Chrome"),
            ("Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", "Pingdom"),
            ("Mozilla/5.0 (compatible; SomeSpider)", "generic spider"),
            ("AWS Security Scanner", "AWS scanner"),
        ];
        for (ua, why) in cases {
            assert!(is_crawler(ua), "{why}: {ua}");
        }
    }

    #[test]
    fn real_browsers_survive() {
        let cases = [
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome"),
            ("Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36", "a phone whose model ends in BOT"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Slack/4.41.105 Chrome/130.0.6723.137 Electron/33.2.0 Safari/537.36 Sonic Slack_SSB/4.41.105", "the Slack desktop app"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/21F79 [FBAN/FBIOS;FBAV/470.0.0.38.108;FBBV/600000000]", "the Facebook in-app browser"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "headless Chrome of end-to-end tests"),
            ("Slackbot 1.0 (+https://api.slack.com/robots)", "Slack's unfurler, allowed as Relay allows it"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0 RobotFramework-Lab", "a crawler-like word that is not a word ending"),
            ("APIs-Google (+https://developers.google.com/webmasters/APIs-Google.html)", "Google push notifications"),
            ("curl/8.5.0", "a command-line client is not a crawler"),
            ("", "empty"),
        ];
        for (ua, why) in cases {
            assert!(!is_crawler(ua), "{why}: {ua}");
        }
    }
}
