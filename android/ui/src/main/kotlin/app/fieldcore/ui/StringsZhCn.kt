package app.fieldcore.ui

import app.fieldcore.ffi.CallOutcome
import app.fieldcore.ffi.ExceptionDecision
import app.fieldcore.ffi.ExceptionKind
import app.fieldcore.ffi.ExemptionReason
import app.fieldcore.ffi.JobKind
import app.fieldcore.ffi.JobStatus
import app.fieldcore.ffi.Packaging
import app.fieldcore.ffi.PhotoCategory
import app.fieldcore.ffi.TimerKind

/** 简体中文 labels. */
internal object ZhCnStrings : Strings {
    override val enrolTitle = "登记本机"
    override val enrolServerUrl = "服务器地址"
    override val enrolCode = "调度台给的登记码"
    override val enrolDeviceName = "本机名称"
    override val enrolSubmit = "登记"
    override val enrolRevoked = "服务器已不再接受本机。请向调度台索取新的登记码并重新登记。"

    override val jobsTitle = "我的工单"
    override val filterToday = "今天"
    override val filterAll = "全部"
    override val noJobs = "没有工单"
    override val reassignedAway = "已改派他人"
    override fun scheduleConflict(other: String, at: String, shortByMinutes: Long) =
        "与 $other（$at）时间太近：距上门加路程还差 $shortByMinutes 分钟"
    override val noAppointment = "尚未预约"
    override val sync = "同步"

    override val syncIdle = "启动后尚未同步"
    override val syncStarting = "正在同步…"
    override fun syncPushing(sent: Int, pending: Long) = "正在发送：已发 $sent 条，还剩 $pending 条"
    override fun syncPulling(received: Int) = "正在接收：$received 条"
    override fun syncUploading(number: Int, count: Int, percent: Int) =
        "正在上传第 $number/$count 张照片：全部照片已完成 $percent%"
    override fun syncFinished(at: String, sent: Int, received: Int, photos: Int, rejected: Int) =
        "$at 已同步：发送 $sent 条，接收 $received 条，上传照片 $photos 张" +
            if (rejected > 0) "，服务器拒绝 $rejected 条" else ""
    override fun syncFailed(at: String, message: String, eventsSent: Int, photosUploaded: Int, photosWaiting: Int) =
        "$at 同步中断：$message。已送达：$eventsSent 条操作、$photosUploaded 张照片；" +
            "$photosWaiting 张照片等待下次同步"
    override fun syncCancelled(at: String) = "$at 同步已停止，数据未丢失"

    override val back = "返回"
    override val order = "订单"
    override val status = "状态"
    override val appointment = "预约时间"
    override val reassignedAwayNotice = "调度台已将此工单改派给其他师傅，本机不能再对其操作。"
    override val timers = "时限"
    override fun timerRemaining(duration: String) = "剩余 $duration"
    override fun timerOverdue(duration: String) = "已超时 $duration"
    override val timerMet = "已达成"
    override val timerBreached = "已超时"
    override val timerExempted = "已免责"
    override val accept = "接单"

    override val calls = "联系客户"
    override val callOutcome = "结果"
    override val note = "备注"
    override val logCall = "记录通话"

    override val appointmentBook = "预约上门"
    override val book = "预约"
    override val reschedule = "改约"
    override val rescheduleReason = "原因"
    override val customerConsented = "客户已同意新的时间"
    override val rescheduleSubmit = "改约"

    override val date = "日期"
    override val time = "时间"
    override val dateHint = "年-月-日，如 2026-01-31"
    override val timeHint = "时:分，如 14:30"
    override val invalidDateTime = "日期请按 年-月-日，时间请按 时:分 填写"

    override val goodsArrival = "货物到达物流点"
    override val goodsArrivedAt = "到货时间"
    override val goodsArrivedSubmit = "货已到"
    override fun goodsArrivedOn(at: String) = "货物于 $at 到达"

    override val pickup = "提货"
    override fun expectedPieces(n: Int) = "应提件数：$n"
    override val piecesCounted = "实点件数"
    override val packaging = "外包装"
    override val recordPickup = "记录提货"
    override fun pickedUp(pieces: Int, packaging: String, at: String) = "已提货 $pieces 件，外包装$packaging，$at"
    override val pickupPhoto = "拍摄货物"

    override val checkIn = "签到"
    override fun checkedInAt(at: String) = "$at 已签到"

    override val checklist = "服务规范检查"
    override val yes = "是"
    override val no = "否"
    override val required = "必填"

    override val workDone = "施工"
    override val markWorkDone = "施工完成"

    override val evidence = "凭证"
    override fun photoCount(n: Int) = "照片 $n 张"
    override val completionPhoto = "完工照片"
    override val receiptPhoto = "签字回执照片"
    override val exceptionPhoto = "拍摄异常情况"

    override val signature = "客户签名（须客户本人签，师傅不得代签）"
    override val signatureClear = "清除"
    override val signatureSave = "保存签名"
    override val signatureCaptured = "客户已签名"

    override val confirmationCode = "客户服务确认码"
    override val enterCode = "提交确认码"
    override val codeEntered = "已录入确认码"

    override val stillMissing = "完工前还需要"
    override val complete = "确认完工"
    override fun completedAt(at: String) = "$at 已完工"
    override val checkOut = "签退"

    override val exceptions = "异常"
    override val raiseException = "上报异常"
    override val exceptionKind = "异常类型"
    override val raise = "上报"
    override val exceptionOpen = "等待调度台处理"
    override val holdsJob = "工单暂停"

    override val claimExemption = "申请免责"
    override val exemptionReason = "原因"
    override val claim = "申请"
    override val exemptionPending = "已申请免责，等待调度台审核"
    override val exemptionGranted = "免责已批准"
    override val exemptionRefused = "免责未批准"

    override val conflicts = "服务器未接受"
    override val rejectedByServer = "被拒绝"

    override fun jobStatus(status: JobStatus) = when (status) {
        JobStatus.UNASSIGNED -> "未派单"
        JobStatus.ASSIGNED -> "新工单"
        JobStatus.ACCEPTED -> "已接单"
        JobStatus.GOODS_ARRIVED -> "货已到"
        JobStatus.PICKED_UP -> "已提货"
        JobStatus.SCHEDULED -> "已预约"
        JobStatus.ON_SITE -> "在现场"
        JobStatus.WORK_DONE -> "施工完成"
        JobStatus.COMPLETED -> "已完工"
        JobStatus.BLOCKED -> "暂停"
        JobStatus.CANCELLED -> "已取消"
    }

    override fun jobKind(kind: JobKind) = when (kind) {
        JobKind.INSTALL -> "安装"
        JobKind.DELIVERY_INSTALL -> "送装"
        JobKind.REPAIR -> "维修"
    }

    override fun callOutcome(outcome: CallOutcome) = when (outcome) {
        CallOutcome.REACHED -> "已接通"
        CallOutcome.NO_ANSWER -> "无人接听"
        CallOutcome.BUSY -> "占线"
        CallOutcome.UNREACHABLE -> "无法接通"
        CallOutcome.WRONG_NUMBER -> "号码错误"
    }

    override fun packaging(packaging: Packaging) = when (packaging) {
        Packaging.INTACT -> "完好"
        Packaging.DAMAGED -> "破损"
    }

    override fun exceptionKind(kind: ExceptionKind) = when (kind) {
        ExceptionKind.PICKUP_DAMAGED -> "提货时货物破损"
        ExceptionKind.PICKUP_COUNT_MISMATCH -> "提货件数不符"
        ExceptionKind.GOODS_MISMATCH_ORDER -> "货物与订单不符"
        ExceptionKind.EXTRA_FEE_NEEDED -> "需要额外收费"
        ExceptionKind.CUSTOMER_ABSENT -> "客户不在"
        ExceptionKind.RESCHEDULE_REQUESTED -> "客户要求改约"
        ExceptionKind.LATE_ARRIVAL -> "将迟到"
        ExceptionKind.DAMAGE_CAUSED -> "施工造成损坏"
        ExceptionKind.DISPUTE -> "纠纷"
        ExceptionKind.CONDUCT_VIOLATION -> "服务规范"
        ExceptionKind.COMPLETION_CODE_UNAVAILABLE -> "无法取得确认码"
    }

    override fun exceptionDecision(decision: ExceptionDecision) = when (decision) {
        ExceptionDecision.PROCEED -> "调度台：继续"
        ExceptionDecision.STOP -> "调度台：停止"
    }

    override fun exemptionReason(reason: ExemptionReason) = when (reason) {
        ExemptionReason.WEATHER -> "天气"
        ExemptionReason.CUSTOMER -> "客户原因"
        ExemptionReason.CODE_UNAVAILABLE -> "无法取得确认码"
        ExemptionReason.OTHER -> "其他"
    }

    override fun timerKind(kind: TimerKind) = when (kind) {
        TimerKind.DISPATCH -> "派单"
        TimerKind.FIRST_CONTACT -> "首次联系客户"
        TimerKind.ARRIVAL_WINDOW -> "到达时间窗"
        TimerKind.COMPLETION -> "完工"
        TimerKind.REPAIR_RESPONSE -> "维修响应"
        TimerKind.REPAIR_ON_SITE -> "维修到场"
        TimerKind.RETURN_VISIT -> "回访"
        TimerKind.COMPLAINT_ANSWER -> "投诉受理"
        TimerKind.COMPLAINT_RESULT -> "投诉结果"
    }

    override fun photoCategory(category: PhotoCategory) = when (category) {
        PhotoCategory.PICKUP -> "提货"
        PhotoCategory.COMPLETION -> "完工"
        PhotoCategory.RECEIPT -> "回执"
        PhotoCategory.EXCEPTION -> "异常"
        PhotoCategory.SIGNATURE -> "签名"
    }
}
