package pluginargs

import "testing"

func TestParse(t *testing.T) {
	a := Parse([]string{"--logtostderr", "-v=9", "--tracing", "http://x", "-root=/tmp/p", "127.0.0.1:1234", "extra"})
	if a.EngineAddress() != "127.0.0.1:1234" {
		t.Fatalf("engine address = %q", a.EngineAddress())
	}
	if a.Flags["tracing"] != "http://x" || a.Flags["root"] != "/tmp/p" || a.Flags["v"] != "9" || a.Flags["logtostderr"] != "true" {
		t.Fatalf("flags = %v", a.Flags)
	}
	if len(a.Positional) != 2 {
		t.Fatalf("positional = %v", a.Positional)
	}
	b := Parse([]string{"-unknown", "-v", "3", "addr"})
	if b.EngineAddress() != "addr" || b.Flags["v"] != "3" || b.Flags["unknown"] != "true" {
		t.Fatalf("parse b = %+v", b)
	}
	if Parse(nil).EngineAddress() != "" {
		t.Fatal("expected empty engine address")
	}
}
