// Command poster is a Lambda function (provided.al2023) that answers every
// message by posting back to its connection twice, through the AWS SDK:
// once to https://{domainName}/{stage}, as AWS's documentation does, and
// once to http://{domainName}/{stage}. It trusts the gateway's certificate
// only through the environment Switchboard gives it (SSL_CERT_FILE).
package main

import (
	"context"
	"fmt"

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
	for _, scheme := range []string{"https", "http"} {
		endpoint := scheme + "://" + rc.DomainName + "/" + rc.Stage
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
