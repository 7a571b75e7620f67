package main

// A supervised child process: started with its log and pid file in the
// cluster's directory, killed with the supervisor (Pdeathsig), and started
// again when a test kills it, unless its hold file exists. The API server,
// the controller-manager and kube-proxy are each one of these.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

type supervised struct {
	what      string // for messages: "alpha: controller-manager"
	dir       string
	log       string // file names in dir
	pidFile   string
	holdFile  string
	argv      []string
	cloneNet  bool // start in a new network namespace (pod and node holders)
	cloneNS   bool // and in a new mount namespace (a real node's holder: containerd's and the kubelet's mounts stay in it)
	mu        sync.Mutex
	cmd       *exec.Cmd
	exited    chan struct{}
	onStarted func(pid int) error
}

func (p *supervised) start() error {
	log, err := os.OpenFile(filepath.Join(p.dir, p.log), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	// If the supervisor dies, however it dies, its children die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if p.cloneNet {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET
	}
	if p.cloneNS {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWNS
	}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("%s: %w", p.what, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(exited) }()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	if p.pidFile != "" {
		if err := os.WriteFile(filepath.Join(p.dir, p.pidFile), []byte(fmt.Sprintf("%d\n", cmd.Process.Pid)), 0o644); err != nil {
			return err
		}
	}
	if p.onStarted != nil {
		return p.onStarted(cmd.Process.Pid)
	}
	return nil
}

func (p *supervised) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.exited
}

func (p *supervised) pid() int {
	cmd, _ := p.current()
	if cmd == nil || cmd.Process == nil {
		return 0
	}
	return cmd.Process.Pid
}

// keepAlive restarts the process when it dies (a test killed it), unless held.
func (p *supervised) keepAlive(ctx context.Context) {
	for {
		_, exited := p.current()
		select {
		case <-ctx.Done():
			return
		case <-exited:
		}
		for p.holdFile != "" {
			if _, err := os.Stat(filepath.Join(p.dir, p.holdFile)); os.IsNotExist(err) {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err := p.start(); err != nil {
			fmt.Fprintf(os.Stderr, "controlplane: restart %s: %v\n", p.what, err)
			return
		}
	}
}

// stopAll sends SIGTERM to every process, then SIGKILL to those still running after the grace period.
func stopAll(procs []*supervised, grace time.Duration) {
	for _, p := range procs {
		if cmd, _ := p.current(); cmd != nil && cmd.Process != nil {
			cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.After(grace)
	for _, p := range procs {
		cmd, exited := p.current()
		if cmd == nil {
			continue
		}
		select {
		case <-exited:
		case <-deadline:
			cmd.Process.Kill()
			<-exited
		}
	}
}
