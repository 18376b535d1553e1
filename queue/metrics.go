package queue

import (
	"fmt"
	"io"
	"strings"
)

// gauges is a queue's instantaneous state: what a scrape reports.
type gauges struct {
	ready, inFlight, delayed int
	stats                    Stats
}

// gauges reads the queue's state under its lock.
func (q *Local) gauges() gauges {
	q.mu.Lock()
	defer q.mu.Unlock()
	g := gauges{ready: len(q.ready), delayed: len(q.timers), stats: q.stats}
	g.inFlight = max(q.pending-g.ready-g.delayed, 0)
	return g
}

// WriteMetrics writes the metrics of queues in the Prometheus text format,
// labelled by queue name (docs/metrics.md): depth (ready messages), in
// flight (being delivered to the consumer), delayed (failed, waiting for
// their retry), and the counters of sent, received, deleted, failed,
// retried, dead-lettered and filtered messages. A gateway serves them with
// Server.AddMetrics.
func WriteMetrics(w io.Writer, queues ...*Local) {
	all := make([]gauges, len(queues))
	for i, q := range queues {
		all[i] = q.gauges()
	}
	family := func(name, typ, help string, v func(g gauges) int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for i, q := range queues {
			fmt.Fprintf(w, "%s{queue=\"%s\"} %d\n", name, labelValue(q.opts.Name), v(all[i]))
		}
	}
	family("switchboard_queue_depth", "gauge", "Messages ready to be delivered (SQS ApproximateNumberOfMessagesVisible).",
		func(g gauges) int64 { return int64(g.ready) })
	family("switchboard_queue_in_flight", "gauge", "Messages being delivered to the consumer now.",
		func(g gauges) int64 { return int64(g.inFlight) })
	family("switchboard_queue_delayed", "gauge", "Messages that failed and wait for their retry.",
		func(g gauges) int64 { return int64(g.delayed) })
	family("switchboard_queue_sent_total", "counter", "Messages sent to the queue.",
		func(g gauges) int64 { return g.stats.Sent })
	family("switchboard_queue_received_total", "counter", "Message receives: deliveries to the consumer, retries included.",
		func(g gauges) int64 { return g.stats.Received })
	family("switchboard_queue_deleted_total", "counter", "Messages the consumer handled (deleted).",
		func(g gauges) int64 { return g.stats.Deleted })
	family("switchboard_queue_failed_total", "counter", "Receives that failed (the consumer reported the message or failed whole).",
		func(g gauges) int64 { return g.stats.Failed })
	family("switchboard_queue_retries_total", "counter", "Failed receives put back for a retry.",
		func(g gauges) int64 { return g.stats.Failed - g.stats.DeadLettered })
	family("switchboard_queue_dead_letters_total", "counter", "Messages moved to the dead-letter queue after maxReceiveCount failed receives.",
		func(g gauges) int64 { return g.stats.DeadLettered })
	family("switchboard_queue_filtered_total", "counter", "Messages deleted without invoking the consumer: they matched none of its filters.",
		func(g gauges) int64 { return g.stats.Filtered })
}

// labelValue escapes a Prometheus label value.
func labelValue(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}
