// Proxy auto-config for guard, generated @GENERATED@ by `guard pac` from rules/destinations.yaml.
// Only the LLM hosts guard inspects go through the proxy; everything else goes DIRECT.
// There is no DIRECT fallback for LLM hosts: if guard is unreachable, prompts fail rather than leave unscanned.
var GUARD_EXACT_HOSTS = @EXACT@;
var GUARD_HOST_SUFFIXES = @SUFFIXES@;
var GUARD_PROXY = @PROXY@;

function FindProxyForURL(url, host) {
    var h = host.toLowerCase();
    if (h.charAt(h.length - 1) == ".") {
        h = h.substring(0, h.length - 1);
    }
    for (var i = 0; i < GUARD_EXACT_HOSTS.length; i++) {
        if (h == GUARD_EXACT_HOSTS[i]) {
            return GUARD_PROXY;
        }
    }
    for (var j = 0; j < GUARD_HOST_SUFFIXES.length; j++) {
        if (dnsDomainIs(h, GUARD_HOST_SUFFIXES[j])) {
            return GUARD_PROXY;
        }
    }
    return "DIRECT";
}
