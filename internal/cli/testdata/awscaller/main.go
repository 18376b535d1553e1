// Command awscaller is a Lambda function (provided.al2023) whose code names
// AWS's own DynamoDB endpoint, https://dynamodb.{region}.amazonaws.com, as
// code that ignores AWS_ENDPOINT_URL_DYNAMODB effectively does. It answers
// every message with the names of the tables it lists there.
package main

import (
	"context"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func handle(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	if ev.RequestContext.RouteKey != "$default" {
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String("https://dynamodb." + os.Getenv("AWS_REGION") + ".amazonaws.com")
	})
	out, err := db.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return events.APIGatewayProxyResponse{StatusCode: 200, Body: "go: " + strings.Join(out.TableNames, ",")}, nil
}

func main() { lambda.Start(handle) }
