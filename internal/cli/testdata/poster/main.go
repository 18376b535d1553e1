// Command poster is a Lambda function (provided.al2023) that answers every
// message by posting back to its connection twice, through the AWS SDK:
// once to https://{domainName}/{stage}, as AWS's documentation does, and
// once to http://{domainName}/{stage}, and once to AWS's own host name of
// the API, https://{apiId}.execute-api.{region}.amazonaws.com/{stage}. It trusts the gateway's certificate
// only through the environment Switchboard gives it (SSL_CERT_FILE).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
)

func handle(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	rc := ev.RequestContext
	if rc.RouteKey != "$default" {
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	endpoints := map[string]string{
		"https": "https://" + rc.DomainName + "/" + rc.Stage,
		"http":  "http://" + rc.DomainName + "/" + rc.Stage,
		// AWS's own host name, as some samples build it.
		"execute-api": fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com/%s", rc.APIID, os.Getenv("AWS_REGION"), rc.Stage),
	}
	for scheme, endpoint := range endpoints {
		client := apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
			o.BaseEndpoint = aws.String(endpoint)
		})
		_, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
			ConnectionId: aws.String(rc.ConnectionID),
			Data:         []byte("via " + scheme + ": " + ev.Body),
		})
		if err != nil {
			return events.APIGatewayProxyResponse{}, fmt.Errorf("posting to %s: %w", endpoint, err)
		}
	}
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}

func main() { lambda.Start(handle) }
