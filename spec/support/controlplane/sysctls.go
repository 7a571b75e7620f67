package main

// A kubelet sets kernel settings at start (its container manager's
// setupKernelTunables: vm.overcommit_memory=1, kernel.panic=10,
// kernel.panic_on_oops=1, ...). They are not namespaced: they are the host's.
// The first bed with real nodes saves the host's values; the last one to stop
// puts them back. A bed killed before it could is found out by the next one
// to start (its pid is gone), which puts them back first.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const sysctlDir = "/run/mefi-bed"

var kubeletSysctls = []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"}

// withSysctlLock runs f holding the lock that beds take to count one another.
func withSysctlLock(f func() error) error {
	if err := os.MkdirAll(filepath.Join(sysctlDir, "beds"), 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(sysctlDir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	return f()
}

// liveBeds are the beds with real nodes still running (their pid files), other than this one; the dead ones' files go.
func liveBeds() int {
	entries, _ := os.ReadDir(filepath.Join(sysctlDir, "beds"))
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		switch {
		case err != nil || !alive(pid):
			os.Remove(filepath.Join(sysctlDir, "beds", e.Name()))
		case pid != os.Getpid():
			n++
		}
	}
	return n
}

// saveSysctls registers this bed and, if it is the only one, records the host's values.
func saveSysctls() error {
	return withSysctlLock(func() error {
		saved := filepath.Join(sysctlDir, "sysctl.json")
		if liveBeds() == 0 {
			restoreFrom(saved) // a bed killed before it put them back
			values := map[string]string{}
			for _, k := range kubeletSysctls {
				v, err := os.ReadFile(filepath.Join("/proc/sys", k))
				if err != nil {
					return err
				}
				values[k] = strings.TrimSpace(string(v))
			}
			b, _ := json.Marshal(values)
			if err := os.WriteFile(saved, b, 0o600); err != nil {
				return err
			}
		}
		return os.WriteFile(filepath.Join(sysctlDir, "beds", strconv.Itoa(os.Getpid())), nil, 0o600)
	})
}

// restoreSysctls unregisters this bed and, if it was the last, puts the host's values back.
func restoreSysctls() {
	withSysctlLock(func() error {
		os.Remove(filepath.Join(sysctlDir, "beds", strconv.Itoa(os.Getpid())))
		if liveBeds() == 0 {
			restoreFrom(filepath.Join(sysctlDir, "sysctl.json"))
		}
		return nil
	})
}

func restoreFrom(saved string) {
	b, err := os.ReadFile(saved)
	if err != nil {
		return
	}
	var values map[string]string
	if json.Unmarshal(b, &values) == nil {
		for k, v := range values {
			os.WriteFile(filepath.Join("/proc/sys", k), []byte(v), 0o644)
		}
	}
	os.Remove(saved)
}
