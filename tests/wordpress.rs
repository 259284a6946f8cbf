//! WordPress end to end: Debian's `wordpress` package (WordPress 6.1) served by `ephpm serve`,
//! its tables in the built-in MySQL-protocol database backed by SQLite, driven over HTTP by curl
//! with a cookie jar the way a browser would drive it: install, log in, publish a post through
//! the REST API the block editor uses, switch to pretty permalinks, search, comment and upload
//! an image.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{curl, fixture, redis_cli, Response, Server, ServerOptions};

/// Where Debian's `wordpress` package installs WordPress.
const WORDPRESS_SOURCE: &str = "/usr/share/wordpress";

const ADMIN_USER: &str = "admin";
const ADMIN_PASSWORD: &str = "correct-horse-battery-staple";
/// A word that appears nowhere in a fresh WordPress site, so that searching for it finds only
/// the post this test publishes.
const UNIQUE_WORD: &str = "quokkazephyr";
const POST_TITLE: &str = "Quokkazephyr crosses the loopback";
/// The slug WordPress derives from [`POST_TITLE`].
const POST_SLUG: &str = "quokkazephyr-crosses-the-loopback";
const POST_BODY: &str = "A quokkazephyr was seen serving PHP from one core.";
const COMMENT_TEXT: &str = "The quokkazephyr comment arrived intact.";
const UPLOAD_NAME: &str = "quokkazephyr-swatch.png";

/// Texts that mean PHP or `wpdb` printed an error into a page.
const ERROR_MARKERS: &[&str] = &[
    "WordPress database error",
    "Warning:",
    "<b>Warning</b>:",
    "Fatal error",
    "Parse error",
];

/// Starts `ephpm serve` on a copy of Debian's WordPress with the test's `wp-config.php`
/// (written by `setup`).
fn start_site(setup: fn(&Path, u16)) -> Server {
    start_site_with(setup, &[])
}

/// [`start_site`] with extra environment for the server.
fn start_site_with(setup: fn(&Path, u16), env: &[(&str, &str)]) -> Server {
    let source = Path::new(WORDPRESS_SOURCE);
    assert!(
        source.join("wp-settings.php").is_file(),
        "WordPress not found in {WORDPRESS_SOURCE} (apt-get install wordpress)"
    );
    let mut options = ServerOptions::default()
        .docroot_source(source)
        .without("wp-config.php")
        .env("EPHPM_LOG__ACCESS_LOG", "off")
        .setup(setup);
    if source.join(".htaccess").exists() {
        options = options.without(".htaccess");
    }
    for (key, value) in env {
        options = options.env(key, value);
    }
    Server::start(options)
}

/// Writes the test's `wp-config.php`, pointing WordPress at the server's built-in database.
fn write_wp_config(docroot: &Path, db_port: u16) {
    let template = fs::read_to_string(fixture("wordpress/wp-config.php")).unwrap();
    let config = template.replace("@DB_HOST@", &format!("127.0.0.1:{db_port}"));
    fs::write(docroot.join("wp-config.php"), config).unwrap();
}

/// A `wp-config.php` that reaches the built-in database over its Unix socket, the way a site
/// is configured for a local MySQL: `DB_HOST` is `localhost:/path/to/socket`, here from the
/// `DB_SOCKET` ePHPm puts in PHP's environment.
fn write_wp_config_over_socket(docroot: &Path, _db_port: u16) {
    let template = fs::read_to_string(fixture("wordpress/wp-config.php")).unwrap();
    let config = template.replace("'@DB_HOST@'", "'localhost:' . getenv('DB_SOCKET')");
    fs::write(docroot.join("wp-config.php"), config).unwrap();
}

/// [`write_wp_config`], plus `kv/php/object-cache.php` as WordPress's persistent object cache.
fn write_wp_config_with_object_cache(docroot: &Path, db_port: u16) {
    write_wp_config(docroot, db_port);
    let drop_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("kv/php/object-cache.php");
    fs::copy(drop_in, docroot.join("wp-content/object-cache.php")).unwrap();
}

/// A curl-driven client that keeps its cookies between requests, as a browser does.
struct Browser<'a> {
    site: &'a Server,
    cookie_jar: PathBuf,
}

impl<'a> Browser<'a> {
    fn new(site: &'a Server) -> Browser<'a> {
        Browser {
            site,
            cookie_jar: site.dir().join("cookies.txt"),
        }
    }

    /// Runs curl on `path` with the cookie jar and `args`; redirects are not followed.
    fn request(&self, path: &str, args: &[&str]) -> Response {
        let jar = self.cookie_jar.to_str().unwrap();
        let url = self.site.url(path);
        let mut all = vec!["-b", jar, "-c", jar];
        all.extend_from_slice(args);
        all.push(&url);
        curl(&all)
    }

    fn get(&self, path: &str) -> Response {
        self.request(path, &[])
    }

    /// Posts `fields` as `application/x-www-form-urlencoded`.
    fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let encoded: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut args = Vec::new();
        for field in &encoded {
            args.extend(["--data-urlencode", field.as_str()]);
        }
        self.request(path, &args)
    }

    /// Posts `body` to a REST route, authenticated by the cookies and the `wp_rest` nonce.
    fn post_rest(&self, path: &str, nonce: &str, headers: &[String], body: &Path) -> Response {
        let nonce_header = format!("X-WP-Nonce: {nonce}");
        let body_arg = format!("@{}", body.display());
        let mut args = vec!["-H", nonce_header.as_str()];
        for header in headers {
            args.extend(["-H", header.as_str()]);
        }
        args.extend(["--data-binary", body_arg.as_str()]);
        self.request(path, &args)
    }
}

#[test]
fn wordpress_runs_on_the_embedded_database() {
    let site = start_site(write_wp_config);
    run_the_site(&site);
}

/// The same visit with WordPress talking to the database over `db.socket` (mysqlnd's Unix
/// socket transport) instead of TCP.
#[test]
fn wordpress_runs_on_the_embedded_database_over_its_unix_socket() {
    let sockets = tempfile::tempdir().unwrap();
    let socket = sockets.path().join("mysqld.sock");
    let socket = socket.to_str().unwrap();
    let site = start_site_with(write_wp_config_over_socket, &[("EPHPM_DB__SOCKET", socket)]);
    run_the_site(&site);
    assert!(Path::new(socket).exists(), "no database socket at {socket}");
}

/// The same visit with `kv/php/object-cache.php`: WordPress keeps its object cache in the
/// built-in KV store, and every page still shows fresh data (new post, comment, permalinks).
#[test]
fn wordpress_runs_with_the_kv_object_cache() {
    let site = start_site(write_wp_config_with_object_cache);
    run_the_site(&site);
    let keys = redis_cli(site.kv_port(), &["--scan", "--pattern", "wp:*"]);
    assert!(
        keys.lines().any(|key| key.contains(":options:alloptions")),
        "WordPress's options are not in the KV store:\n{keys}"
    );
    assert!(
        keys.lines().any(|key| key.contains(":posts:")),
        "no cached posts in the KV store:\n{keys}"
    );
}

/// Installs the site and walks through it as an editor and a visitor would.
fn run_the_site(site: &Server) {
    let browser = Browser::new(site);

    install(&browser);
    log_in(site, &browser);
    let nonce = rest_nonce(&browser);
    let post_id = publish_post(site, &browser, &nonce);
    use_pretty_permalinks(site, &browser, post_id);
    search_finds_the_post(&browser);
    comment_on_the_post(&browser, post_id);
    upload_an_image(site, &browser, &nonce);

    let log = site.log();
    assert!(
        !log.to_lowercase().contains("database error"),
        "database errors in the server log:\n{log}"
    );
    for warning in log.lines().filter(|line| line.contains("PHP Warning")) {
        eprintln!("server log: {warning}");
    }
}

/// Step 1: the site redirects to the installer, which creates the tables and the admin user.
fn install(browser: &Browser) {
    let home = browser.get("/");
    assert_eq!(home.status, 302, "an empty site redirects to its installer");
    let location = home.header("location").unwrap_or_default();
    assert!(location.contains("/wp-admin/install.php"), "{location}");

    let installed = browser.post_form(
        "/wp-admin/install.php?step=2",
        &[
            ("weblog_title", "ePHPm WordPress test"),
            ("user_name", ADMIN_USER),
            ("admin_password", ADMIN_PASSWORD),
            ("admin_password2", ADMIN_PASSWORD),
            ("pw_weak", "1"),
            ("admin_email", "admin@example.com"),
            ("blog_public", "0"),
        ],
    );
    let page = assert_clean_page(&installed, "install step 2");
    assert!(
        page.contains("Success!"),
        "install did not succeed:\n{page}"
    );

    let home = browser.get("/");
    let page = assert_clean_page(&home, "home page");
    assert!(page.contains("ePHPm WordPress test"), "{page}");
}

/// Step 2: the login form sets the auth cookies and sends the admin to the dashboard.
fn log_in(site: &Server, browser: &Browser) {
    let form = browser.get("/wp-login.php");
    assert_clean_page(&form, "login form");

    let dashboard_url = site.url("/wp-admin/");
    let login = browser.post_form(
        "/wp-login.php",
        &[
            ("log", ADMIN_USER),
            ("pwd", ADMIN_PASSWORD),
            ("wp-submit", "Log In"),
            ("redirect_to", dashboard_url.as_str()),
            ("testcookie", "1"),
        ],
    );
    assert_eq!(login.status, 302, "login failed:\n{}", login.text());
    assert_eq!(login.header("location"), Some(dashboard_url.as_str()));

    let dashboard = browser.get("/wp-admin/");
    let page = assert_clean_page(&dashboard, "dashboard");
    assert!(page.contains("Dashboard"), "{page}");
}

/// The `wp_rest` nonce the block editor page hands to `wp.apiFetch`.
fn rest_nonce(browser: &Browser) -> String {
    let editor = browser.get("/wp-admin/post-new.php");
    let page = assert_clean_page(&editor, "post editor");
    let nonce = text_between(&page, "createNonceMiddleware( \"", "\"").or_else(|| {
        let settings = &page[page.find("wpApiSettings")?..];
        text_between(settings, "\"nonce\":\"", "\"")
    });
    let nonce = nonce.unwrap_or_else(|| panic!("no wp_rest nonce in post-new.php:\n{page}"));
    assert!(
        !nonce.is_empty() && nonce.chars().all(|c| c.is_ascii_alphanumeric()),
        "odd nonce {nonce:?}"
    );
    nonce
}

/// Step 3: publishes a post through the REST API, as the block editor does; returns its id.
fn publish_post(site: &Server, browser: &Browser, nonce: &str) -> u64 {
    let body = format!(
        "{{\"title\":\"{POST_TITLE}\",\"status\":\"publish\",\
         \"content\":\"<!-- wp:paragraph --><p>{POST_BODY}</p><!-- /wp:paragraph -->\"}}"
    );
    let body_file = site.dir().join("post.json");
    fs::write(&body_file, body).unwrap();
    let created = browser.post_rest(
        "/wp-json/wp/v2/posts",
        nonce,
        &["Content-Type: application/json".to_string()],
        &body_file,
    );
    let json = created.text();
    assert_eq!(created.status, 201, "creating the post failed:\n{json}");
    assert_eq!(json_string(&json, "status").as_deref(), Some("publish"));
    assert_eq!(json_string(&json, "slug").as_deref(), Some(POST_SLUG));
    json_number(&json, "id").unwrap_or_else(|| panic!("no id in {json}"))
}

/// Step 4: saves `/%postname%/` on the permalink settings page and views the post there.
fn use_pretty_permalinks(site: &Server, browser: &Browser, post_id: u64) {
    let settings = browser.get("/wp-admin/options-permalink.php");
    let page = assert_clean_page(&settings, "permalink settings");
    let nonce = text_between(&page, "name=\"_wpnonce\" value=\"", "\"")
        .unwrap_or_else(|| panic!("no _wpnonce on the permalink settings page:\n{page}"));

    let saved = browser.post_form(
        "/wp-admin/options-permalink.php",
        &[
            ("_wpnonce", nonce.as_str()),
            ("_wp_http_referer", "/wp-admin/options-permalink.php"),
            ("selection", "custom"),
            ("permalink_structure", "/%postname%/"),
            ("category_base", ""),
            ("tag_base", ""),
            ("submit", "Save Changes"),
        ],
    );
    assert_eq!(saved.status, 302, "saving permalinks:\n{}", saved.text());
    let location = saved.header("location").unwrap_or_default();
    assert!(location.contains("settings-updated=true"), "{location}");
    // WordPress rebuilds its rewrite rules on the page it redirects to, as a browser follows.
    let updated = browser.get("/wp-admin/options-permalink.php?settings-updated=true");
    let page = assert_clean_page(&updated, "permalink settings after saving");
    assert!(page.contains("Permalink structure updated"), "{page}");

    let pretty = format!("/{POST_SLUG}/");
    let described = browser.get(&format!("/wp-json/wp/v2/posts/{post_id}"));
    assert_eq!(described.status, 200, "{}", described.text());
    let expected_link = site.url(&pretty);
    assert_eq!(
        json_string(&described.text(), "link").as_deref(),
        Some(expected_link.as_str())
    );

    let post = browser.get(&pretty);
    let page = assert_clean_page(&post, "post at its pretty URL");
    assert!(page.contains(POST_TITLE), "{page}");
    assert!(page.contains(POST_BODY), "{page}");
}

/// Step 5: the search results list the post, and only for a word it contains.
fn search_finds_the_post(browser: &Browser) {
    let found = browser.get(&format!("/?s={UNIQUE_WORD}"));
    let page = assert_clean_page(&found, "search results");
    assert!(page.contains(&format!("/{POST_SLUG}/")), "{page}");
    assert!(page.contains(POST_TITLE), "{page}");

    let missed = browser.get("/?s=wombatnebula");
    let page = assert_clean_page(&missed, "empty search results");
    assert!(!page.contains(POST_SLUG), "{page}");
}

/// Step 6: the logged-in admin comments through the post's comment form.
fn comment_on_the_post(browser: &Browser, post_id: u64) {
    let pretty = format!("/{POST_SLUG}/");
    let post = browser.get(&pretty);
    let page = assert_clean_page(&post, "post with the comment form");
    let form_post_id = text_between(&page, "name='comment_post_ID' value='", "'")
        .unwrap_or_else(|| panic!("no comment form on the post page:\n{page}"));
    assert_eq!(form_post_id, post_id.to_string());

    let post_id_text = post_id.to_string();
    let sent = browser.post_form(
        "/wp-comments-post.php",
        &[
            ("comment", COMMENT_TEXT),
            ("comment_post_ID", post_id_text.as_str()),
            ("comment_parent", "0"),
            ("submit", "Post Comment"),
        ],
    );
    assert_eq!(sent.status, 302, "posting the comment:\n{}", sent.text());
    let location = sent.header("location").unwrap_or_default();
    assert!(
        location.contains(&pretty) && location.contains("#comment-"),
        "{location}"
    );

    // An anonymous visitor sees it: an administrator's comment is approved at once.
    let anonymous = curl(&[&browser.site.url(&pretty)]);
    let page = assert_clean_page(&anonymous, "post with the comment");
    assert!(page.contains(COMMENT_TEXT), "{page}");
}

/// Step 7: uploads a PNG through the REST media endpoint and reads it back byte for byte.
fn upload_an_image(site: &Server, browser: &Browser, nonce: &str) {
    let image = png::swatch();
    let image_file = site.dir().join("upload.png");
    fs::write(&image_file, &image).unwrap();
    let uploaded = browser.post_rest(
        "/wp-json/wp/v2/media",
        nonce,
        &[
            "Content-Type: image/png".to_string(),
            format!("Content-Disposition: attachment; filename=\"{UPLOAD_NAME}\""),
        ],
        &image_file,
    );
    let json = uploaded.text();
    assert_eq!(uploaded.status, 201, "uploading the image failed:\n{json}");
    assert_eq!(
        json_string(&json, "mime_type").as_deref(),
        Some("image/png")
    );
    // PHP read the image's size, so the bytes are a valid PNG.
    assert_eq!(json_number(&json, "width"), Some(16), "{json}");
    assert_eq!(json_number(&json, "height"), Some(16), "{json}");
    let source_url =
        json_string(&json, "source_url").unwrap_or_else(|| panic!("no source_url in {json}"));
    let origin = site.url("");
    let path = source_url
        .strip_prefix(&origin)
        .unwrap_or_else(|| panic!("{source_url} is not on {origin}"));
    assert!(path.ends_with(UPLOAD_NAME), "{path}");

    let fetched = browser.get(path);
    assert_eq!(fetched.status, 200, "fetching {path}");
    assert_eq!(fetched.header("content-type"), Some("image/png"));
    assert!(
        fetched.body == image,
        "{path} differs from the uploaded bytes"
    );
}

/// Asserts a 200 HTML page free of PHP and database error output; returns its text.
fn assert_clean_page(response: &Response, what: &str) -> String {
    let page = response.text();
    assert_eq!(response.status, 200, "{what}: status\n{page}");
    for marker in ERROR_MARKERS {
        assert!(
            !page.contains(marker),
            "{what}: {marker:?} in the page:\n{page}"
        );
    }
    page
}

/// The text after the first `start` up to the next `end`.
fn text_between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let length = text[from..].find(end)?;
    Some(text[from..from + length].to_string())
}

/// The first string member `name` in a JSON text, with `\/` unescaped (enough for the URLs,
/// slugs and MIME types read here).
fn json_string(json: &str, name: &str) -> Option<String> {
    text_between(json, &format!("\"{name}\":\""), "\"").map(|value| value.replace("\\/", "/"))
}

/// The first numeric member `name` in a JSON text.
fn json_number(json: &str, name: &str) -> Option<u64> {
    let key = format!("\"{name}\":");
    let from = json.find(&key)? + key.len();
    let digits: String = json[from..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A PNG encoder just big enough for a test image: 8-bit RGB, no filtering, the image data in
/// stored (uncompressed) deflate blocks.
mod png {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    /// Width and height of [`swatch`].
    const SIDE: u32 = 16;

    /// A 16x16 colour gradient.
    pub fn swatch() -> Vec<u8> {
        let mut rows = Vec::new();
        for y in 0..SIDE {
            rows.push(0); // filter type: none
            for x in 0..SIDE {
                rows.extend([(x * 16) as u8, (y * 16) as u8, 0x80]);
            }
        }
        let mut header = Vec::new();
        header.extend(SIDE.to_be_bytes());
        header.extend(SIDE.to_be_bytes());
        // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
        header.extend([8, 2, 0, 0, 0]);

        let mut png = SIGNATURE.to_vec();
        append_chunk(&mut png, b"IHDR", &header);
        append_chunk(&mut png, b"IDAT", &zlib_stored(&rows));
        append_chunk(&mut png, b"IEND", &[]);
        png
    }

    fn append_chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        png.extend((data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend(kind);
        png.extend(data);
        let crc = crc32(&png[start..]);
        png.extend(crc.to_be_bytes());
    }

    /// A zlib stream holding `data` in stored deflate blocks.
    fn zlib_stored(data: &[u8]) -> Vec<u8> {
        // CMF 0x78 (deflate, 32 KiB window), FLG 0x01 (makes CMF*256+FLG a multiple of 31).
        let mut stream = vec![0x78, 0x01];
        let blocks: Vec<&[u8]> = data.chunks(u16::MAX as usize).collect();
        for (index, block) in blocks.iter().enumerate() {
            let last = index + 1 == blocks.len();
            stream.push(u8::from(last));
            let length = block.len() as u16;
            stream.extend(length.to_le_bytes());
            stream.extend((!length).to_le_bytes());
            stream.extend(*block);
        }
        stream.extend(adler32(data).to_be_bytes());
        stream
    }

    fn adler32(data: &[u8]) -> u32 {
        const MODULUS: u32 = 65_521;
        let (mut a, mut b) = (1u32, 0u32);
        for byte in data {
            a = (a + u32::from(*byte)) % MODULUS;
            b = (b + a) % MODULUS;
        }
        (b << 16) | a
    }

    /// CRC-32 as PNG (and zlib's `crc32`) computes it: reflected polynomial 0xEDB88320.
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for byte in data {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                let mask = (crc & 1).wrapping_neg();
                crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
            }
        }
        !crc
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn crc32_matches_the_check_value() {
            assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        }

        #[test]
        fn adler32_matches_the_known_value() {
            assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        }

        #[test]
        fn image_data_inflates_to_the_rows() {
            use std::io::Read;
            let png = swatch();
            let idat = png.windows(4).position(|w| w == b"IDAT").unwrap();
            let length = u32::from_be_bytes(png[idat - 4..idat].try_into().unwrap()) as usize;
            let mut rows = Vec::new();
            flate2::read::ZlibDecoder::new(&png[idat + 4..idat + 4 + length])
                .read_to_end(&mut rows)
                .unwrap();
            let side = SIDE as usize;
            assert_eq!(rows.len(), side * (1 + 3 * side));
        }

        #[test]
        fn iend_chunk_has_the_well_known_crc() {
            let png = swatch();
            assert_eq!(&png[..8], SIGNATURE);
            assert_eq!(&png[png.len() - 12..], b"\0\0\0\0IEND\xae\x42\x60\x82");
        }
    }
}
