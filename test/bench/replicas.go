package main

import (
	"context"
)

// replicaResults are the throughput through funcd at 32 connections with
// the bench function at one and at two replicas.
type replicaResults struct {
	one, two result
}

// measureReplicas alternates the bench function between one and two
// replicas (scaled through the API, waiting until all are available) and
// runs the 32-connection load through funcd at each; the median round of
// each is reported. It leaves the function at one replica.
func measureReplicas(ctx context.Context, cfg config, t *target) (replicaResults, error) {
	var res replicaResults
	var one, two []result
	many := load{threads: 2, conns: 32}
	for range cfg.rounds {
		for _, n := range []uint64{1, 2} {
			if err := t.client.Scale(ctx, fnName, "", n); err != nil {
				return res, err
			}
			if err := t.waitReplicas(ctx, fnName, n); err != nil {
				return res, err
			}
			r, err := warmRun(ctx, cfg, t.through, many)
			if err != nil {
				return res, err
			}
			if n == 1 {
				one = append(one, r)
			} else {
				two = append(two, r)
			}
		}
	}
	if err := t.client.Scale(ctx, fnName, "", 1); err != nil {
		return res, err
	}
	res.one, res.two = median(one), median(two)
	return res, nil
}
