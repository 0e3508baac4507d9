using System.Net;
using System.Text;
using Amazon.Runtime;
using EcrDaemon.Ecr;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

public sealed class EcrErrorClassifierTests
{
    [Theory]
    [InlineData("ThrottlingException", 400, "throttled", true)]
    [InlineData(null, 429, "throttled", true)]
    [InlineData("AccessDenied", 403, "access_denied", false)]
    [InlineData("AccessDeniedException", 400, "access_denied", false)]
    [InlineData("UnrecognizedClientException", 400, "invalid_credentials", false)]
    [InlineData("InvalidClientTokenId", 403, "invalid_credentials", false)]
    [InlineData("InvalidSignatureException", 400, "invalid_credentials", false)]
    [InlineData("SignatureDoesNotMatch", 403, "invalid_credentials", false)]
    [InlineData("RequestTimeTooSkewed", 403, "clock_skew", false)]
    [InlineData("RequestExpired", 400, "clock_skew", false)]
    [InlineData("RequestInTheFuture", 400, "clock_skew", false)]
    [InlineData("ExpiredToken", 400, "invalid_credentials", false)]
    [InlineData("ExpiredTokenException", 400, "invalid_credentials", false)]
    [InlineData("ServerException", 500, "other", true)]
    [InlineData(null, 503, "other", true)]
    [InlineData(null, 403, "access_denied", false)]
    [InlineData("InvalidParameterException", 400, "other", false)]
    public void Codes_map_to_reasons_and_transience(string? code, int status, string reason, bool transient)
    {
        var failure = EcrErrorClassifier.Classify(code, status, "server says no", "ecr:GetAuthorizationToken");

        Assert.Equal(reason, failure.ReasonLabel);
        Assert.Equal(transient, failure.IsTransient);
        Assert.Contains("server says no", failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"__type":"com.amazonaws.ecr#ThrottlingException","message":"Rate exceeded"}""", null, "throttled")]
    [InlineData("""{"__type":"ServerException","message":"x"}""", null, "other")]
    [InlineData("""<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>no</Message></Error></Errors></ErrorResponse>""", null, "access_denied")]
    [InlineData("""<?xml version="1.0"?><Response><Errors><Error><Code>SignatureDoesNotMatch</Code></Error></Errors></Response>""", null, "invalid_credentials")]
    [InlineData("not json and not xml", "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/", "throttled")]
    public void Error_codes_are_read_from_json_xml_and_the_error_type_header(string body, string? header, string reason)
    {
        var failure = EcrErrorClassifier.FromHttpError(400, header, Encoding.UTF8.GetBytes(body), "ecr:GetAuthorizationToken");

        Assert.Equal(reason, failure.ReasonLabel);
    }

    [Theory]
    [InlineData("InvalidSignatureException", "Signature expired: 20261203T000000Z is now earlier than 20261203T010500Z (20261203T011000Z - 5 min.)", "clock_skew")]
    [InlineData("InvalidSignatureException", "Signature not yet current: 20261203T020000Z is still later than 20261203T011500Z (20261203T011000Z + 5 min.)", "clock_skew")]
    [InlineData("SignatureDoesNotMatch", "Signature expired: 20261203T000000Z is now earlier than 20261203T010500Z", "clock_skew")]
    [InlineData(null, "Signature expired: 20261203T000000Z is now earlier than 20261203T010500Z", "clock_skew")]
    [InlineData("AuthFailure", "Request has expired.", "clock_skew")]
    [InlineData("InvalidSignatureException", "The request signature we calculated does not match the signature you provided.", "invalid_credentials")]
    [InlineData("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.", "invalid_credentials")]
    public void A_SigV4_rejection_for_time_is_clock_skew_by_code_or_message(string? code, string message, string reason)
    {
        var failure = EcrErrorClassifier.Classify(code, 403, message, "ecr:GetAuthorizationToken");

        Assert.Equal(reason, failure.ReasonLabel);
        Assert.False(failure.IsTransient);
        if (reason == "clock_skew")
        {
            Assert.Contains("until the clock is fixed", failure.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_time_rejection_in_a_JSON_body_is_clock_skew()
    {
        var body = """{"__type":"InvalidSignatureException","message":"Signature expired: 20261203T000000Z is now earlier than 20261203T010500Z (20261203T011000Z - 5 min.)"}"""u8;

        var failure = EcrErrorClassifier.FromHttpError(400, null, body, "ecr:GetAuthorizationToken");

        Assert.Equal(EcrFailureReason.ClockSkew, failure.Reason);
        Assert.Equal("clock_skew", failure.ReasonLabel);
    }

    [Fact]
    public void An_xml_body_with_a_dtd_is_not_expanded()
    {
        const string body = """<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "AccessDenied">]><Error><Code>&e;</Code></Error>""";

        var failure = EcrErrorClassifier.FromHttpError(400, null, Encoding.UTF8.GetBytes(body), "ecr:GetAuthorizationToken");

        Assert.Equal("other", failure.ReasonLabel);
        Assert.False(failure.IsTransient);
    }

    [Fact]
    public void Sdk_exceptions_are_classified_by_cause()
    {
        var denied = new AmazonServiceException("not authorized to perform sts:AssumeRole", ErrorType.Sender, "AccessDenied", "id", HttpStatusCode.Forbidden);
        var network = new AmazonClientException("failed", new HttpRequestException("Connection refused (127.0.0.1:9)"));

        var deniedFailure = EcrErrorClassifier.FromException(denied, "sts:AssumeRole on arn:aws:iam::123456789012:role/x");
        var networkFailure = EcrErrorClassifier.FromException(network, "sts:AssumeRole on arn:aws:iam::123456789012:role/x");

        Assert.Equal(EcrFailureReason.AccessDenied, deniedFailure.Reason);
        Assert.Contains("lack sts:AssumeRole on arn:aws:iam::123456789012:role/x", deniedFailure.Message, StringComparison.Ordinal);
        Assert.Equal(EcrFailureReason.Network, networkFailure.Reason);
        Assert.True(networkFailure.IsTransient);
    }

    [Fact]
    public void Every_reason_has_one_of_the_metric_labels()
    {
        string[] labels = ["throttled", "access_denied", "invalid_credentials", "network", "timeout", "invalid_response", "other", "clock_skew"];

        Assert.Equal(labels, Enum.GetValues<EcrFailureReason>().Select(r => r.ToLabel()));
    }
}
