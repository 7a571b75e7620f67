package main

// Compaction on demand: etcd forgets every revision before its latest, as the
// API server's own periodic compaction does every five minutes. A list that
// paginates across it gets 410 Gone for its continue token, which is what
// tests of a client's list restart need.

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func (c *cluster) compact(ctx context.Context) (int64, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{fmt.Sprintf("http://127.0.0.1:%d", c.etcdC)}, DialTimeout: 5 * time.Second})
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	status, err := cli.Get(ctx, "compact-probe")
	if err != nil {
		return 0, err
	}
	rev := status.Header.Revision
	if _, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		return 0, err
	}
	return rev, nil
}
