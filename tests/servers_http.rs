//! The HTTP servers of docs/servers.md, installed from Debian's packages by
//! scripts/test.sh, each under drainit with exactly its recipe
//! (docker/servers/NAME.env) as PID 1 of its own PID namespace, stopped
//! under load behind both balancer models (tests/common/servers.rs): no
//! request of either kind may be lost. The same server under `tini -g`,
//! stopped with its official image's STOPSIGNAL, loses requests where the
//! test says it does (measured), and the figures are printed for the table
//! in docs/servers.md.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use common::haproxy::free_ports;
use common::servers::{Kind, Launch, Model, Server, copy_fixture, prove, require, tomcat_base};

/// A file of `len` bytes.
fn file(path: &Path, len: usize) {
    fs::write(path, vec![b'x'; len]).unwrap();
}

/// nginx's configuration for one server block on `port`, with `body` in it.
fn nginx_conf(dir: &Path, port: u16, body: &str) -> String {
    let d = dir.display();
    format!(
        "user root;\nworker_processes 2;\npid {d}/nginx.pid;\nerror_log stderr notice;\n\
         load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/tmp;\n  proxy_temp_path {d}/tmp;\n  \
         fastcgi_temp_path {d}/tmp;\n  server {{\n    listen 127.0.0.1:{port};\n{body}  }}\n}}\n"
    )
}

/// `nginx` in the foreground with `conf`, written to `dir`.
fn nginx_argv(dir: &Path, conf: &str) -> Vec<String> {
    fs::create_dir_all(dir.join("tmp")).unwrap();
    let path = dir.join("nginx.conf");
    fs::write(&path, conf).unwrap();
    let (path, dir) = (path.display().to_string(), dir.display().to_string());
    [
        "nginx",
        "-e",
        "stderr",
        "-p",
        &dir,
        "-c",
        &path,
        "-g",
        "daemon off;",
    ]
    .map(String::from)
    .to_vec()
}

/// nginx: a short answer after 100 ms (the echo module, which
/// nginx-light loads), and a 240,000-byte download at 100 KiB/s (2.4 s).
fn nginx(dir: &Path, port: u16) -> Launch {
    fs::create_dir_all(dir.join("www")).unwrap();
    file(&dir.join("www/long.bin"), 240_000);
    let body = format!(
        "    root {}/www;\n    location = /short {{ echo_sleep 0.1; echo ok; }}\n    \
         location = /long {{ limit_rate 100k; try_files /long.bin =404; }}\n",
        dir.display()
    );
    let argv = nginx_argv(dir, &nginx_conf(dir, port, &body));
    Launch {
        argv,
        env: Vec::new(),
        sidecar: None,
    }
}

const NGINX: Server = Server {
    name: "nginx",
    short: "/short",
    long: "/long",
    image_stop_signal: libc::SIGQUIT,
    launch: nginx,
};

/// Apache httpd (event MPM): both requests are files sent through
/// mod_ratelimit, whose steps are 200 ms: a short one in one step (0.2 s),
/// a 300,000-byte download at 120 KiB/s (2.4 s).
fn httpd(dir: &Path, port: u16) -> Launch {
    let www = dir.join("www");
    fs::create_dir_all(&www).unwrap();
    file(&www.join("short.bin"), 2500);
    file(&www.join("long.bin"), 300_000);
    let d = dir.display();
    let modules = ["mpm_event", "authz_core", "ratelimit", "env", "filter"]
        .map(|m| format!("LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so\n"))
        .concat();
    let conf = format!(
        "ServerRoot {d}\nServerName localhost\nListen 127.0.0.1:{port}\nPidFile {d}/httpd.pid\n\
         DefaultRuntimeDir {d}\n{modules}User nobody\nGroup nogroup\nErrorLog /dev/stderr\n\
         DocumentRoot {d}/www\nGracefulShutdownTimeout 20\n\
         <Location /short.bin>\n  SetOutputFilter RATE_LIMIT\n  SetEnv rate-limit 10\n</Location>\n\
         <Location /long.bin>\n  SetOutputFilter RATE_LIMIT\n  SetEnv rate-limit 120\n</Location>\n"
    );
    let path = dir.join("httpd.conf");
    fs::write(&path, conf).unwrap();
    Launch::new(&["apache2", "-D", "FOREGROUND", "-f", path.to_str().unwrap()])
}

const HTTPD: Server = Server {
    name: "httpd",
    short: "/short.bin",
    long: "/long.bin",
    image_stop_signal: libc::SIGWINCH,
    launch: httpd,
};

/// php-fpm with a static pool, `process_control_timeout` set (without it
/// QUIT cuts requests at once), and nginx in front of it as a sidecar (not
/// under test: the instance's port is nginx's).
fn php_fpm(dir: &Path, port: u16) -> Launch {
    let [fpm_port] = free_ports();
    let www = dir.join("www");
    fs::create_dir_all(&www).unwrap();
    copy_fixture("short.php", &www.join("short.php"));
    copy_fixture("long.php", &www.join("long.php"));
    let conf = format!(
        "[global]\npid = {d}/fpm.pid\nerror_log = /proc/self/fd/2\ndaemonize = no\n\
         process_control_timeout = 20s\n\n[www]\nuser = nobody\ngroup = nogroup\n\
         listen = 127.0.0.1:{fpm_port}\npm = static\npm.max_children = 16\n",
        d = dir.display()
    );
    let path = dir.join("php-fpm.conf");
    fs::write(&path, conf).unwrap();
    let front = dir.join("nginx");
    fs::create_dir_all(&front).unwrap();
    let body = format!(
        "    root {}/www;\n    location ~ \\.php$ {{\n      include /etc/nginx/fastcgi_params;\n      \
         fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n      \
         fastcgi_pass 127.0.0.1:{fpm_port};\n      fastcgi_buffering off;\n    }}\n",
        dir.display()
    );
    let argv = nginx_argv(&front, &nginx_conf(&front, port, &body));
    let log = fs::File::create(front.join("nginx.log")).unwrap();
    let sidecar = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("run nginx (apt-get install nginx-light)");
    let fpm = fpm_binary();
    let mut launch = Launch::new(&[&fpm, "-F", "-y", path.to_str().unwrap()]);
    launch.sidecar = Some(sidecar);
    launch
}

/// Debian's php-fpm binary carries PHP's version (php-fpm8.2).
fn fpm_binary() -> String {
    let sbin = fs::read_dir("/usr/sbin").unwrap();
    let mut found: Vec<String> = sbin
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("php-fpm"))
        .collect();
    found.sort();
    found
        .pop()
        .expect("no /usr/sbin/php-fpm*: the Debian package php-fpm is not installed")
}

const PHP_FPM: Server = Server {
    name: "php-fpm",
    short: "/short.php",
    long: "/long.php",
    image_stop_signal: libc::SIGQUIT,
    launch: php_fpm,
};

/// tests/fixtures/servers/app.js: no signal handler.
fn node(dir: &Path, port: u16) -> Launch {
    let app = dir.join("app.js");
    copy_fixture("app.js", &app);
    Launch::new(&["node", app.to_str().unwrap(), &port.to_string()])
}

const NODE: Server = Server {
    name: "node",
    short: "/short",
    long: "/long",
    image_stop_signal: libc::SIGTERM,
    launch: node,
};

const TOMCAT: Server = Server {
    name: "tomcat",
    short: "/short.jsp",
    long: "/long.jsp",
    image_stop_signal: libc::SIGTERM,
    launch: tomcat_base,
};

#[test]
fn nginx_stops_under_load_without_loss() {
    require("nginx", "nginx-light");
    require("haproxy", "haproxy");
    require("tini", "tini");
    prove(&NGINX, &[(Model::Lagging, Kind::Short)]);
}

#[test]
fn httpd_stops_under_load_without_loss() {
    require("apache2", "apache2");
    prove(&HTTPD, &[(Model::Lagging, Kind::Short)]);
}

#[test]
fn php_fpm_behind_nginx_stops_under_load_without_loss() {
    require("nginx", "nginx-light");
    fpm_binary();
    prove(
        &PHP_FPM,
        &[(Model::Checked, Kind::Short), (Model::Lagging, Kind::Short)],
    );
}

#[test]
fn node_stops_under_load_without_loss() {
    require("node", "nodejs");
    // Long downloads are in flight on it when it dies.
    prove(
        &NODE,
        &[
            (Model::Checked, Kind::Long),
            (Model::Lagging, Kind::Long),
            (Model::Lagging, Kind::Short),
        ],
    );
}

#[test]
fn tomcat_stops_under_load_without_loss() {
    require("java", "tomcat10");
    assert!(
        Path::new("/usr/share/tomcat10/bin/catalina.sh").exists(),
        "the Debian package tomcat10 is not installed"
    );
    prove(&TOMCAT, &[(Model::Lagging, Kind::Short)]);
}

/// docs/servers.md quotes every recipe of docker/servers/ as it is, so
/// that what users copy is what the tests run.
#[test]
fn docs_quote_every_recipe_as_tested() {
    let docs = fs::read_to_string(Path::new(common::REPO).join("docs/servers.md")).unwrap();
    for name in ["nginx", "httpd", "php-fpm", "node", "tomcat", "celery"] {
        let block: String = common::servers::recipe(name)
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        assert!(
            docs.contains(&format!("```\n{block}```")),
            "docs/servers.md does not quote docker/servers/{name}.env:\n{block}"
        );
    }
}
