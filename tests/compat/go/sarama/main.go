// sarama (github.com/IBM/sarama, its own protocol code) against a broker: cluster admin, a
// synchronous idempotent snappy producer with acks=all, and a consumer group that commits and
// resumes. sarama speaks the protocol versions that the Kafka version it is told implies, not what
// ApiVersions offers, so the suite runs it at an old version (2.1) and at its newest. Prints one
// JSON line of findings; exits non-zero with the reason on any failure.
//
//	sarama-roundtrip <bootstrap> <topic> <kafka-version>
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

const partitions = 3

type collector struct {
	mu     sync.Mutex
	values []string
	wanted int
	done   chan struct{}
	once   sync.Once
}

func (c *collector) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (c *collector) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (c *collector) ConsumeClaim(session sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		c.mu.Lock()
		c.values = append(c.values, string(msg.Value))
		if len(c.values) >= c.wanted {
			c.once.Do(func() { close(c.done) })
		}
		c.mu.Unlock()
		session.MarkMessage(msg, "")
	}
	return nil
}

func consume(brokers []string, config *sarama.Config, group, topic string, wanted int) ([]string, error) {
	g, err := sarama.NewConsumerGroup(brokers, group, config)
	if err != nil {
		return nil, err
	}
	c := &collector{wanted: wanted, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{topic}, c); err != nil && ctx.Err() == nil {
				fmt.Fprintln(os.Stderr, "consume:", err)
				time.Sleep(200 * time.Millisecond)
			}
		}
	}()
	select {
	case <-c.done:
	case <-time.After(60 * time.Second):
	}
	cancel()
	if err := g.Close(); err != nil { // commits what was marked
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.values) < wanted {
		return c.values, fmt.Errorf("consumed %d of %d", len(c.values), wanted)
	}
	return c.values, nil
}

func run(bootstrap, topic, version string) (map[string]int, error) {
	brokers := []string{bootstrap}
	config := sarama.NewConfig()
	var err error
	if config.Version, err = sarama.ParseKafkaVersion(version); err != nil {
		return nil, err
	}
	config.ClientID = "kop-compat-sarama"
	config.Producer.Idempotent = true
	config.Net.MaxOpenRequests = 1
	config.Producer.RequiredAcks = sarama.WaitForAll
	config.Producer.Return.Successes = true
	config.Producer.Compression = sarama.CompressionSnappy
	config.Consumer.Offsets.Initial = sarama.OffsetOldest
	config.Consumer.Offsets.CommitInterval = 100 * time.Millisecond
	// A retention makes sarama commit with OffsetCommit v2, the oldest Kafka 4.0 serves (v1 otherwise).
	config.Consumer.Offsets.Retention = 24 * time.Hour

	admin, err := sarama.NewClusterAdmin(brokers, config)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	defer admin.Close()
	retention := "3600000"
	detail := &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"retention.ms": &retention}}
	if err := admin.CreateTopic(topic, detail, false); err != nil {
		return nil, fmt.Errorf("create topic: %w", err)
	}
	configs, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	if err != nil {
		return nil, fmt.Errorf("describe configs: %w", err)
	}
	retained := 0
	for _, c := range configs {
		if c.Name == "retention.ms" && c.Value == retention {
			retained = 1
		}
	}
	producer, err := sarama.NewSyncProducer(brokers, config)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	const count = 200
	seenPartitions := map[int32]bool{}
	for i := 0; i < count; i++ {
		p, _, err := producer.SendMessage(&sarama.ProducerMessage{
			Topic: topic, Key: sarama.StringEncoder(fmt.Sprintf("key-%d", i%13)),
			Value: sarama.StringEncoder(fmt.Sprintf("value-%d", i)),
		})
		if err != nil {
			return nil, fmt.Errorf("send %d: %w", i, err)
		}
		seenPartitions[p] = true
	}
	group := topic + "-group"
	first, err := consume(brokers, config, group, topic, count)
	if err != nil {
		return nil, fmt.Errorf("first pass: %w", err)
	}
	unique := map[string]bool{}
	for _, v := range first {
		unique[v] = true
	}
	if len(unique) != count {
		return nil, fmt.Errorf("first pass saw %d distinct of %d", len(unique), count)
	}
	for i := 1; i <= 2; i++ {
		if _, _, err := producer.SendMessage(&sarama.ProducerMessage{
			Topic: topic, Key: sarama.StringEncoder("after"), Value: sarama.StringEncoder(fmt.Sprintf("after-%d", i)),
		}); err != nil {
			return nil, fmt.Errorf("send after: %w", err)
		}
	}
	producer.Close()
	second, err := consume(brokers, config, group, topic, 2)
	if err != nil {
		return nil, fmt.Errorf("second pass: %w", err)
	}
	if len(second) != 2 || second[0] != "after-1" || second[1] != "after-2" {
		return nil, fmt.Errorf("the group did not resume at its commit: %v", second)
	}
	if err := admin.DeleteTopic(topic); err != nil {
		return nil, fmt.Errorf("delete topic: %w", err)
	}
	return map[string]int{"consumed": len(first), "resumed": len(second), "partitions_used": len(seenPartitions),
		"config_read": retained}, nil
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: sarama-roundtrip <bootstrap> <topic> <kafka-version>")
		os.Exit(2)
	}
	report, err := run(os.Args[1], os.Args[2], os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, _ := json.Marshal(report)
	fmt.Println(string(out))
}
