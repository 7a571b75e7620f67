// Command bed-app is the one binary of the bed's pod images (built static,
// about 6 MB): `serve` in the application's image, `fetch` for the clients
// that send the traffic tests' requests, and `pause` (as /pause) in the
// sandbox image the nodes' containerd runs every pod in.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"mefi.dev/controlplane/podapp"
)

func main() {
	var err error
	cmd, args := filepath.Base(os.Args[0]), os.Args[1:]
	if cmd != "pause" && len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "pause":
		err = podapp.Pause()
	case "serve":
		err = podapp.Serve(args)
	case "fetch":
		err = podapp.Fetch(args)
	default:
		err = fmt.Errorf("usage: bed-app serve|fetch|pause [flags]")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bed-app:", err)
		os.Exit(1)
	}
}
