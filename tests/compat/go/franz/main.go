// franz-go against a broker, with the same commands and output lines as the Java client's
// driver (tests/compat/java), so one set of tests judges both:
//
//	franz produce <bootstrap> <topic> <count> <codec>    idempotent, acks=all, keyed, a "seq" header
//	franz consume <bootstrap> <topic> <group> <count> <eager|cooperative> <idle-ms>
//	franz admin <bootstrap> <topic>                       topics, partitions, configs, records, groups
//	franz transact <bootstrap> <topic> <transactional-id> commits, aborts, is fenced, then reads
//	                                                      read_committed
//
// franz-go speaks the newest version of each API that ApiVersions offers, so it is the client that
// reaches the top of kop's version ranges. Exits non-zero with the reason on any failure.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const timeout = 60 * time.Second

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: franz produce|consume|admin <bootstrap> <topic> ...")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*timeout)
	defer cancel()
	var err error
	switch os.Args[1] {
	case "produce":
		err = produce(ctx, os.Args[2], os.Args[3], atoi(os.Args[4]), os.Args[5])
	case "consume":
		err = consume(ctx, os.Args[2], os.Args[3], os.Args[4], atoi(os.Args[5]), os.Args[6], atoi(os.Args[7]))
	case "admin":
		err = admin(ctx, os.Args[2], os.Args[3])
	case "transact":
		err = transact(ctx, os.Args[2], os.Args[3], os.Args[4])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "not a number:", s)
		os.Exit(2)
	}
	return n
}

func codec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("unknown codec %q", name)
}

func produce(ctx context.Context, bootstrap, topic string, count int, codecName string) error {
	c, err := codec(codecName)
	if err != nil {
		return err
	}
	// Idempotence is franz-go's default; acks=all is what it requires.
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(c), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	records := make([]*kgo.Record, count)
	for i := range records {
		records[i] = &kgo.Record{
			Topic: topic, Key: []byte(fmt.Sprintf("k%d", i%7)), Value: []byte(fmt.Sprintf("v%d", i)),
			Headers: []kgo.RecordHeader{{Key: "seq", Value: []byte(strconv.Itoa(i))}},
		}
	}
	results := cl.ProduceSync(ctx, records...)
	if err := results.FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	for _, r := range results {
		fmt.Printf("acked %d %d\n", r.Record.Partition, r.Record.Offset)
	}
	return nil
}

func consume(ctx context.Context, bootstrap, topic, group string, count int, assignor string, idleMs int) error {
	var balancer kgo.GroupBalancer
	switch assignor {
	case "eager":
		balancer = kgo.RangeBalancer()
	case "cooperative":
		balancer = kgo.CooperativeStickyBalancer()
	default:
		return fmt.Errorf("unknown assignor %q", assignor)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.Balancers(balancer), kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
			fmt.Printf("assigned %d\n", len(assigned[topic]))
		}))
	if err != nil {
		return err
	}
	defer cl.Close()
	seen := 0
	deadline := time.Now().Add(timeout)
	lastSeen := time.Now()
	for seen < count && time.Now().Before(deadline) && time.Since(lastSeen) < time.Duration(idleMs)*time.Millisecond {
		pollCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		for _, e := range fetches.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				return fmt.Errorf("fetch %s/%d: %w", e.Topic, e.Partition, e.Err)
			}
		}
		fetches.EachRecord(func(r *kgo.Record) {
			lastSeen = time.Now()
			header := "-"
			for _, h := range r.Headers {
				if h.Key == "seq" {
					header = string(h.Value)
				}
			}
			key := "null" // as the Java driver prints a record without a key
			if r.Key != nil {
				key = string(r.Key)
			}
			fmt.Printf("record %d %d %s %s %s\n", r.Partition, r.Offset, key, r.Value, header)
			seen++
		})
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	committed := cl.CommittedOffsets()[topic]
	partitions := make([]int, 0, len(committed))
	for p := range committed {
		partitions = append(partitions, int(p))
	}
	sort.Ints(partitions)
	for _, p := range partitions {
		fmt.Printf("committed %d %d\n", p, committed[int32(p)].Offset)
	}
	return nil
}

func admin(ctx context.Context, bootstrap, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	retention := "3600000"
	if _, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"retention.ms": &retention}, topic); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	described, err := describe(ctx, adm, topic)
	if err != nil {
		return err
	}
	fmt.Printf("described %s %d\n", topic, described)
	if rs, err := adm.UpdatePartitions(ctx, 3, topic); err != nil || rs.Error() != nil {
		return fmt.Errorf("grow: %v %v", err, rs.Error())
	}
	// Kafka's brokers learn of new partitions just after the controller answers.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if described, err = describe(ctx, adm, topic); err != nil {
			return err
		}
		if described == 3 || time.Now().After(deadline) {
			break
		}
	}
	fmt.Printf("grown %d\n", described)

	longer := "7200000"
	alter := []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &longer}}
	if rs, err := adm.AlterTopicConfigs(ctx, alter, topic); err != nil || rs[0].Err != nil {
		return fmt.Errorf("alter configs: %v %v", err, rs)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil || len(configs) != 1 || configs[0].Err != nil {
		return fmt.Errorf("describe configs: %v %v", err, configs)
	}
	for _, c := range configs[0].Configs {
		if c.Key == "retention.ms" && c.Value != nil {
			fmt.Printf("config retention.ms %s\n", *c.Value)
		}
	}

	records := make([]*kgo.Record, 10)
	for i := range records {
		records[i] = &kgo.Record{Topic: topic, Partition: 0, Value: []byte(fmt.Sprintf("r%d", i))}
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	err = producer.ProduceSync(ctx, records...).FirstErr()
	producer.Close()
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	var upTo kadm.Offsets
	upTo.AddOffset(topic, 0, 4, -1)
	if rs, err := adm.DeleteRecords(ctx, upTo); err != nil || rs.Error() != nil {
		return fmt.Errorf("delete records: %v %v", err, rs.Error())
	}
	for _, end := range []struct {
		name string
		list func(context.Context, ...string) (kadm.ListedOffsets, error)
	}{{"earliest", adm.ListStartOffsets}, {"latest", adm.ListEndOffsets}} {
		listed, err := end.list(ctx, topic)
		if err != nil || listed.Error() != nil {
			return fmt.Errorf("list %s offsets: %v %v", end.name, err, listed.Error())
		}
		o, _ := listed.Lookup(topic, 0)
		fmt.Printf("%s %d\n", end.name, o.Offset)
	}

	group := topic + "-admin-group"
	var commit kadm.Offsets
	commit.AddOffset(topic, 0, 7, -1)
	if rs, err := adm.CommitOffsets(ctx, group, commit); err != nil || rs.Error() != nil {
		return fmt.Errorf("commit offsets: %v %v", err, rs.Error())
	}
	fetched, err := adm.FetchOffsets(ctx, group)
	if err != nil || fetched.Error() != nil {
		return fmt.Errorf("fetch offsets: %v %v", err, fetched.Error())
	}
	if o, ok := fetched.Lookup(topic, 0); ok {
		fmt.Printf("group offset %d\n", o.At)
	}
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return fmt.Errorf("list groups: %w", err)
	}
	_, found := listed[group]
	fmt.Printf("group listed %t\n", found)
	groups, err := adm.DescribeGroups(ctx, group)
	if err != nil || groups.Error() != nil {
		return fmt.Errorf("describe groups: %v %v", err, groups.Error())
	}
	fmt.Printf("group state %s\n", groups[group].State)
	if rs, err := adm.DeleteGroups(ctx, group); err != nil || rs.Error() != nil {
		return fmt.Errorf("delete group: %v %v", err, rs.Error())
	}
	fmt.Println("group deleted")

	if rs, err := adm.DeleteTopics(ctx, topic); err != nil || rs.Error() != nil {
		return fmt.Errorf("delete topic: %v %v", err, rs.Error())
	}
	gone := false
	for deadline := time.Now().Add(10 * time.Second); !gone && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		left, err := adm.ListTopics(ctx)
		if err != nil {
			return fmt.Errorf("list topics: %w", err)
		}
		gone = !left.Has(topic)
	}
	fmt.Printf("deleted %t\n", gone)
	return nil
}

func describe(ctx context.Context, adm *kadm.Client, topic string) (int, error) {
	details, err := adm.ListTopics(ctx, topic)
	if err != nil || details.Error() != nil {
		return 0, fmt.Errorf("describe %s: %v %v", topic, err, details.Error())
	}
	return len(details[topic].Partitions), nil
}

// transact commits c0..c2, aborts a0 and a1, leaves "open" in a transaction that a second producer
// of the same transactional id fences (printing "fenced"), commits c3 from that second producer,
// and then prints each record a read_committed consumer gets ("record <value>").
func transact(ctx context.Context, bootstrap, topic, txnID string) error {
	client := func() (*kgo.Client, error) {
		return kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.TransactionalID(txnID), kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	inTxn := func(c *kgo.Client, values []string, commit bool) error {
		if err := c.BeginTransaction(); err != nil {
			return err
		}
		for _, v := range values {
			if err := c.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				return err
			}
		}
		return c.EndTransaction(ctx, kgo.TransactionEndTry(commit))
	}
	first, err := client()
	if err != nil {
		return err
	}
	defer first.Close()
	if err := inTxn(first, []string{"c0", "c1", "c2"}, true); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	fmt.Println("committed 3")
	if err := inTxn(first, []string{"a0", "a1"}, false); err != nil {
		return fmt.Errorf("abort: %w", err)
	}
	fmt.Println("aborted 2")
	if err := first.BeginTransaction(); err != nil {
		return err
	}
	if err := first.ProduceSync(ctx, &kgo.Record{Value: []byte("open")}).FirstErr(); err != nil {
		return err
	}
	second, err := client()
	if err != nil {
		return err
	}
	defer second.Close()
	if err := inTxn(second, []string{"c3"}, true); err != nil {
		return fmt.Errorf("second producer: %w", err)
	}
	if err := first.EndTransaction(ctx, kgo.TryCommit); err != nil {
		fmt.Println("fenced")
	} else {
		fmt.Println("not-fenced")
	}
	fmt.Println("committed 1")
	reader, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		return err
	}
	defer reader.Close()
	for {
		pollCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
		fetches := reader.PollFetches(pollCtx)
		cancel()
		if pollCtx.Err() != nil && fetches.NumRecords() == 0 {
			return nil
		}
		if err := fetches.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		fetches.EachRecord(func(r *kgo.Record) { fmt.Println("record", string(r.Value)) })
	}
}
