package cfn

import (
	"fmt"
	"sort"
	"strings"
)

// physical is what Ref and Fn::GetAtt give for a resource.
type physical struct {
	ref   string
	attrs map[string]string
}

// nameProp is the property that names a resource of each type, and the
// longest generated name.
var nameProp = map[string]struct {
	prop string
	max  int
}{
	"AWS::Lambda::Function":            {"FunctionName", 64},
	"AWS::Serverless::Function":        {"FunctionName", 64},
	"AWS::DynamoDB::Table":             {"TableName", 255},
	"AWS::DynamoDB::GlobalTable":       {"TableName", 255},
	"AWS::Serverless::SimpleTable":     {"TableName", 255},
	"AWS::SQS::Queue":                  {"QueueName", 80},
	"AWS::IAM::Role":                   {"RoleName", 64},
	"AWS::IAM::ManagedPolicy":          {"ManagedPolicyName", 128},
	"AWS::IAM::Policy":                 {"PolicyName", 128},
	"AWS::SNS::Topic":                  {"TopicName", 256},
	"AWS::Logs::LogGroup":              {"LogGroupName", 512},
	"AWS::S3::Bucket":                  {"BucketName", 63},
	"AWS::SSM::Parameter":              {"Name", 255},
	"AWS::CloudWatch::Alarm":           {"AlarmName", 255},
	"AWS::Events::Rule":                {"Name", 64},
	"AWS::SecretsManager::Secret":      {"Name", 255},
	"AWS::StepFunctions::StateMachine": {"StateMachineName", 80},
}

// physical computes a resource's physical id and attributes, evaluating
// the property that names it when there is one.
func (e *evaluator) physical(r *resource, at *Node, path string) (*physical, error) {
	if p, ok := e.phys[r.id]; ok {
		return p, nil
	}
	if e.physBusy[r.id] {
		return nil, fail(path, at, "%s refers to itself through its name", r.id)
	}
	if r.condition != "" {
		ok, err := e.condition(r.condition, at, path)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fail(path, at, "%s is not created: its condition %s is false", r.id, r.condition)
		}
	}
	e.physBusy[r.id] = true
	defer delete(e.physBusy, r.id)
	stack, region, acct := e.o.StackName, e.o.Region, e.o.AccountID
	part, suffix := partition(region)
	name := ""
	if np, ok := nameProp[r.typ]; ok {
		if n := r.props.Get(np.prop); n != nil {
			v, err := e.resolve(n, r.path()+".Properties."+np.prop)
			if err != nil {
				return nil, err
			}
			if v != noValue {
				if !v.scalar() {
					return nil, fail(r.path()+".Properties."+np.prop, n, "want a string, got %s", kindOf(v))
				}
				name = v.Value
			}
		}
		if name == "" {
			name = generatedName(stack, r.id, np.max)
			switch r.typ {
			case "AWS::S3::Bucket":
				name = strings.ToLower(name)
			case "AWS::SQS::Queue":
				if fifo := r.props.Get("FifoQueue"); fifo != nil {
					if v, err := e.resolve(fifo, r.path()+".Properties.FifoQueue"); err == nil && v != nil && v.Value == "true" {
						name = generatedName(stack, r.id, np.max-5) + ".fifo"
					}
				}
			}
		}
	}
	p := &physical{ref: name, attrs: map[string]string{}}
	arn := func(service, res string) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", part, service, region, acct, res)
	}
	switch r.typ {
	case "AWS::Lambda::Function", "AWS::Serverless::Function":
		p.attrs["Arn"] = arn("lambda", "function:"+name)
	case "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable", "AWS::Serverless::SimpleTable":
		p.attrs["Arn"] = arn("dynamodb", "table/"+name)
		if ss := r.props.Get("StreamSpecification"); ss != nil {
			p.attrs["StreamArn"] = p.attrs["Arn"] + "/stream/" + streamLabel
		}
	case "AWS::SQS::Queue":
		p.ref = e.o.QueueURL(name)
		p.attrs["Arn"] = arn("sqs", name)
		p.attrs["QueueUrl"] = p.ref
		p.attrs["QueueName"] = name
	case "AWS::ApiGatewayV2::Api":
		id := shortID("api", stack, r.id, 10)
		p.ref = id
		p.attrs["ApiId"] = id
		proto := ""
		if n := r.props.Get("ProtocolType"); n.scalar() {
			proto = n.Value
		}
		if proto == "WEBSOCKET" {
			p.attrs["ApiEndpoint"] = e.o.APIEndpoint(id)
		} else {
			p.attrs["ApiEndpoint"] = fmt.Sprintf("https://%s.execute-api.%s.%s", id, region, suffix)
		}
	case "AWS::ApiGatewayV2::Route":
		p.ref = shortID("route", stack, r.id, 7)
		p.attrs["RouteId"] = p.ref
	case "AWS::ApiGatewayV2::Integration":
		p.ref = shortID("integration", stack, r.id, 7)
		p.attrs["IntegrationId"] = p.ref
	case "AWS::ApiGatewayV2::Authorizer":
		p.ref = shortID("authorizer", stack, r.id, 7)
		p.attrs["AuthorizerId"] = p.ref
	case "AWS::ApiGatewayV2::RouteResponse":
		p.ref = shortID("routeresponse", stack, r.id, 7)
		p.attrs["RouteResponseId"] = p.ref
	case "AWS::ApiGatewayV2::Deployment":
		p.ref = shortID("deployment", stack, r.id, 6)
		p.attrs["DeploymentId"] = p.ref
	case "AWS::ApiGatewayV2::Stage":
		if n := r.props.Get("StageName"); n != nil {
			v, err := e.resolveString(n, r.path()+".Properties.StageName", "StageName")
			if err != nil {
				return nil, err
			}
			p.ref = v
		}
	case "AWS::Lambda::EventSourceMapping":
		p.ref = stableUUID("esm", stack, r.id)
		p.attrs["Id"] = p.ref
		p.attrs["EventSourceMappingArn"] = arn("lambda", "event-source-mapping:"+p.ref)
	case "AWS::IAM::Role":
		p.attrs["Arn"] = fmt.Sprintf("arn:%s:iam::%s:role/%s", part, acct, name)
		p.attrs["RoleId"] = "AROA" + token(upperAlnum, 8, "roleid", stack, r.id) + token(upperAlnum, 8, "roleid2", stack, r.id)
	case "AWS::IAM::ManagedPolicy":
		p.ref = fmt.Sprintf("arn:%s:iam::%s:policy/%s", part, acct, name)
		p.attrs["PolicyArn"] = p.ref
	case "AWS::SNS::Topic":
		p.ref = arn("sns", name)
		p.attrs["TopicArn"] = p.ref
		p.attrs["TopicName"] = name
	case "AWS::Logs::LogGroup":
		p.attrs["Arn"] = arn("logs", "log-group:"+name+":*")
	case "AWS::S3::Bucket":
		p.attrs["Arn"] = "arn:" + part + ":s3:::" + name
		p.attrs["DomainName"] = name + ".s3." + suffix
		p.attrs["RegionalDomainName"] = name + ".s3." + region + "." + suffix
	case "AWS::SSM::Parameter":
		p.attrs["Type"] = "String"
	case "AWS::CloudWatch::Alarm":
		p.attrs["Arn"] = arn("cloudwatch", "alarm:"+name)
	case "AWS::Events::Rule":
		p.attrs["Arn"] = arn("events", "rule/"+name)
	case "AWS::SecretsManager::Secret":
		p.ref = arn("secretsmanager", "secret:"+name+"-"+token(lowerAlnum, 6, "secret", stack, r.id))
		p.attrs["Id"] = p.ref
	case "AWS::StepFunctions::StateMachine":
		p.ref = arn("states", "stateMachine:"+name)
		p.attrs["Arn"] = p.ref
		p.attrs["Name"] = name
	}
	if p.ref == "" {
		p.ref = generatedName(stack, r.id, 128)
	}
	e.phys[r.id] = p
	return p, nil
}

// streamLabel is the label of every local table's stream ARN (on AWS the
// time the stream was enabled).
const streamLabel = "1970-01-01T00:00:00.000"

// getAtt evaluates Fn::GetAtt resource.attribute.
func (e *evaluator) getAtt(res, attr string, at *Node, path string) (string, error) {
	r := e.t.resources[res]
	if r == nil {
		return "", fail(path, at, "Fn::GetAtt %s.%s: no resource %s", res, attr, res)
	}
	p, err := e.physical(r, at, path)
	if err != nil {
		return "", err
	}
	if v, ok := p.attrs[attr]; ok {
		return v, nil
	}
	if attr == "StreamArn" && strings.Contains(r.typ, "Table") {
		return "", fail(path, at, "Fn::GetAtt %s.StreamArn: the table has no StreamSpecification", res)
	}
	known := make([]string, 0, len(p.attrs))
	for k := range p.attrs {
		known = append(known, k)
	}
	sort.Strings(known)
	if len(known) == 0 {
		return "", fail(path, at, "Fn::GetAtt %s.%s: the attributes of %s are not available locally", res, attr, r.typ)
	}
	return "", fail(path, at, "Fn::GetAtt %s.%s: %s has no attribute %s available locally (it has %s)", res, attr, r.typ, attr, strings.Join(known, ", "))
}
