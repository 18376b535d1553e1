package queue

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/switchboard-ws/switchboard/internal/localonly"
	"github.com/switchboard-ws/switchboard/sigv4"
)

// APIPath is where a Switchboard server serves the SQS API of its local
// queues: point an SQS client's endpoint (SQS_ENDPOINT for the bootstrap)
// at http://HOST:PORT/@sqs, and use the queue URL QueueURL gives.
const APIPath = "/@sqs"

// API serves the part of the Amazon SQS API (AWS JSON 1.0 protocol) that
// producers use — SendMessage, SendMessageBatch, GetQueueUrl — over Local
// queues, so that the very Lambda artifact deployed to AWS sends to a
// local queue unchanged; and GetQueueAttributes with the queue's
// ApproximateNumberOfMessages (ready), ...NotVisible (being delivered, or
// failed and waiting to be retried), ...Delayed (always 0) and QueueArn,
// so that a client can wait, as on SQS, until a queue is drained. Without a Verifier only loopback clients that did
// not come through a proxy are served; with one, every request must be
// SigV4-signed for service "sqs" with one of its credentials.
type API struct {
	Queues   map[string]*Local
	Verifier *sigv4.Verifier
	Logger   *slog.Logger
}

// QueueURL is the URL of queue name as served at base (http://HOST:PORT).
func QueueURL(base, name string) string {
	return strings.TrimSuffix(base, "/") + APIPath + "/000000000000/" + name
}

const maxRequestBytes = MaxBatchBytes + 64<<10 // the bodies plus their JSON

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.Verifier == nil {
		if why, attrs := localonly.Check(r); why != "" {
			a.log().Info("SQS API request "+why+" refused (configure credentials to allow it)", attrs...)
			sqsError(w, http.StatusForbidden, "AccessDenied", "Access to the resource is denied.")
			return
		}
	}
	if r.Method != http.MethodPost {
		sqsError(w, http.StatusBadRequest, "InvalidAction", "SQS requests are POST with X-Amz-Target")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil || len(body) > maxRequestBytes {
		sqsError(w, http.StatusBadRequest, "BatchRequestTooLong", "The request is too long.")
		return
	}
	if a.Verifier != nil {
		if _, err := a.Verifier.Verify(r, body); err != nil {
			a.log().Info("SQS API request refused", "remote", r.RemoteAddr, "err", err)
			sqsError(w, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
			return
		}
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if !ok {
		sqsError(w, http.StatusBadRequest, "InvalidAction", "X-Amz-Target must name an AmazonSQS operation (the AWS JSON protocol)")
		return
	}
	switch op {
	case "SendMessage":
		a.sendMessage(w, body)
	case "SendMessageBatch":
		a.sendMessageBatch(w, r, body)
	case "GetQueueUrl":
		var in struct{ QueueName string }
		if !decode(w, body, &in) {
			return
		}
		if _, ok := a.Queues[in.QueueName]; !ok {
			sqsError(w, http.StatusBadRequest, "QueueDoesNotExist", "The specified queue does not exist.")
			return
		}
		writeJSON(w, map[string]string{"QueueUrl": QueueURL("http://"+r.Host, in.QueueName)})
	case "GetQueueAttributes":
		a.getQueueAttributes(w, body)
	default:
		sqsError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("%s is not served by Switchboard's local SQS (SendMessage, SendMessageBatch, GetQueueUrl and GetQueueAttributes are)", op))
	}
}

func (a *API) queue(w http.ResponseWriter, url string) *Local {
	i := strings.LastIndexByte(url, '/')
	q := a.Queues[url[i+1:]]
	if i < 0 || q == nil || !strings.Contains(url, APIPath+"/") {
		sqsError(w, http.StatusBadRequest, "QueueDoesNotExist", "The specified queue does not exist.")
		return nil
	}
	return q
}

func (a *API) sendMessage(w http.ResponseWriter, body []byte) {
	var in struct{ QueueUrl, MessageBody string }
	if !decode(w, body, &in) {
		return
	}
	q := a.queue(w, in.QueueUrl)
	if q == nil {
		return
	}
	id, err := q.send([]byte(in.MessageBody))
	if err != nil {
		sendError(w, err)
		return
	}
	writeJSON(w, map[string]string{"MessageId": id, "MD5OfMessageBody": md5Hex(in.MessageBody)})
}

func (a *API) sendMessageBatch(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		QueueUrl string
		Entries  []struct{ Id, MessageBody string }
	}
	if !decode(w, body, &in) {
		return
	}
	q := a.queue(w, in.QueueUrl)
	if q == nil {
		return
	}
	switch {
	case len(in.Entries) == 0:
		sqsError(w, http.StatusBadRequest, "EmptyBatchRequest", "There should be at least one SendMessageBatchRequestEntry in the request.")
		return
	case len(in.Entries) > MaxBatchEntries:
		sqsError(w, http.StatusBadRequest, "TooManyEntriesInBatchRequest", fmt.Sprintf("Maximum number of entries per request are %d. You have sent %d.", MaxBatchEntries, len(in.Entries)))
		return
	}
	total, ids := 0, map[string]bool{}
	for _, e := range in.Entries {
		total += len(e.MessageBody)
		if e.Id == "" || ids[e.Id] {
			sqsError(w, http.StatusBadRequest, "BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id (or an empty one).")
			return
		}
		ids[e.Id] = true
	}
	if total > MaxBatchBytes {
		sqsError(w, http.StatusBadRequest, "BatchRequestTooLong", "Batch requests cannot be longer than 262144 bytes.")
		return
	}
	type ok struct{ Id, MessageId, MD5OfMessageBody string }
	type failed struct {
		Id, Code, Message string
		SenderFault       bool
	}
	out := struct {
		Successful []ok
		Failed     []failed
	}{Successful: []ok{}, Failed: []failed{}}
	for _, e := range in.Entries {
		id, err := q.send([]byte(e.MessageBody))
		if err != nil {
			code, sender := errorCode(err)
			out.Failed = append(out.Failed, failed{Id: e.Id, Code: code, Message: err.Error(), SenderFault: sender})
			continue
		}
		out.Successful = append(out.Successful, ok{Id: e.Id, MessageId: id, MD5OfMessageBody: md5Hex(e.MessageBody)})
	}
	writeJSON(w, out)
}

// getQueueAttributes answers the attributes asked for ("All" for every
// one) among those a Local queue has; SQS's others are left out.
func (a *API) getQueueAttributes(w http.ResponseWriter, body []byte) {
	var in struct {
		QueueUrl       string
		AttributeNames []string
	}
	if !decode(w, body, &in) {
		return
	}
	q := a.queue(w, in.QueueUrl)
	if q == nil {
		return
	}
	visible, notVisible := q.counts()
	have := map[string]string{
		"ApproximateNumberOfMessages":           strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(notVisible),
		"ApproximateNumberOfMessagesDelayed":    "0",
		"QueueArn":                              q.arn,
	}
	attrs := map[string]string{}
	for _, name := range in.AttributeNames {
		if name == "All" {
			maps.Copy(attrs, have)
		} else if v, ok := have[name]; ok {
			attrs[name] = v
		}
	}
	writeJSON(w, map[string]any{"Attributes": attrs})
}

func errorCode(err error) (code string, senderFault bool) {
	switch err {
	case ErrTooLarge:
		return "InvalidParameterValue", true
	case ErrEmpty:
		return "MissingParameter", true
	}
	return "ServiceUnavailable", false
}

func sendError(w http.ResponseWriter, err error) {
	code, sender := errorCode(err)
	status := http.StatusBadRequest
	if !sender {
		status = http.StatusServiceUnavailable
	}
	sqsError(w, status, code, err.Error())
}

func decode(w http.ResponseWriter, body []byte, v any) bool {
	if err := json.Unmarshal(body, v); err != nil {
		sqsError(w, http.StatusBadRequest, "InvalidParameterValue", "The request body is not valid JSON: "+err.Error())
		return false
	}
	return true
}

// sqsError answers as SQS's JSON protocol does; the SDKs read the code from
// __type and from the x-amzn-query-error header.
func sqsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-query-error", code+";Sender")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + code, "message": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-RequestId", uuid.NewString())
	json.NewEncoder(w).Encode(v)
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func (a *API) log() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}
