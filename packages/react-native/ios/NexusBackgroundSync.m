#import <React/RCTBridgeModule.h>
#import <React/RCTEventEmitter.h>

// Exposes the Swift module NexusBackgroundSync (BRIDGE.md) to React Native.
@interface RCT_EXTERN_MODULE(NexusBackgroundSync, RCTEventEmitter)
RCT_EXTERN_METHOD(schedule:(NSDictionary *)request resolve:(RCTPromiseResolveBlock)resolve reject:(RCTPromiseRejectBlock)reject)
RCT_EXTERN_METHOD(cancel:(NSString *)taskId resolve:(RCTPromiseResolveBlock)resolve reject:(RCTPromiseRejectBlock)reject)
RCT_EXTERN_METHOD(runNow:(NSDictionary *)request resolve:(RCTPromiseResolveBlock)resolve reject:(RCTPromiseRejectBlock)reject)
RCT_EXTERN_METHOD(complete:(NSString *)runId result:(NSDictionary *)result resolve:(RCTPromiseResolveBlock)resolve reject:(RCTPromiseRejectBlock)reject)
RCT_EXTERN_METHOD(setPushSnapshot:(NSString *)json resolve:(RCTPromiseResolveBlock)resolve reject:(RCTPromiseRejectBlock)reject)
RCT_EXTERN_METHOD(takeNativeRuns:(RCTPromiseResolveBlock)resolve reject:(RCTPromiseRejectBlock)reject)
@end
