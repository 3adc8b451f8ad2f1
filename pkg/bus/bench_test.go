package bus_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/bus"
	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/sink"
)

// BenchmarkPublish measures Publish from many goroutines at once, as the
// gateway calls it, on the embedded server.
func BenchmarkPublish(b *testing.B) {
	bs := bustest.Open(b, bus.Options{})
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ev := checkEvent(fmt.Sprintf("check-%d", n.Add(1)), 0)
			if _, err := bs.Publish(context.Background(), ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkRunner measures events through the runner (claim, Deliver,
// ledger write, double ack) with a sink that does nothing.
func BenchmarkRunner(b *testing.B) {
	bs := bustest.Open(b, bus.Options{})
	evs := make([]*event.Event, b.N)
	for i := range evs {
		evs[i] = checkEvent(fmt.Sprintf("check-%d", i%512), i/512)
	}
	publish(b, bs, evs...)

	var done atomic.Int64
	finished := make(chan struct{})
	noop := sink.Func(func(context.Context, sink.Delivery) (sink.Result, error) {
		if done.Add(1) == int64(b.N) {
			close(finished)
		}
		return sink.Result{Outcome: "posted"}, nil
	})
	c := bus.Consumer{Name: "bench", Sink: noop, Ledger: bustest.Ledger(b, bs)}
	b.ResetTimer()
	start := time.Now()
	stop := bustest.Run(b, bs, c)
	<-finished
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}
